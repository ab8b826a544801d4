from __future__ import annotations

import json


def grades_json(
    points: list[float],
    *,
    readings: list[str] | None = None,
    reasonings: list[str] | None = None,
    feedbacks: list[str] | None = None,
    flag: str = "",
    confidence=0.8,
    places: list[dict] | None = None,
) -> str:
    questions = [
        {
            "id": f"q{number}",
            "points": value,
            "reading": readings[number - 1] if readings else f"L'élève écrit la réponse {number}.",
            "reasoning": reasonings[number - 1] if reasonings else f"Raisonnement pour q{number}.",
            "feedback": feedbacks[number - 1] if feedbacks else f"Conseil pour q{number}.",
            "confidence": confidence,
            # Where the answer was read ({"page", "top", "bottom"}, as the model says it).
            **(places[number - 1] if places else {}),
        }
        for number, value in enumerate(points, start=1)
    ]
    return json.dumps({"questions": questions, "manipulation": {"flag": bool(flag), "reason": flag}})


def from_model(model: str):
    """A script matcher for requests to one model."""
    # litellm sends the provider's own name ("openai/gpt-4o" → "gpt-4o").
    names = {model, model.split("/", 1)[-1]}
    return lambda request: request["model"] in names


def grading_requests(server) -> list:
    return [r for r in server.requests if "[TASK:verify]" not in r.text and "previous answer could not" not in r.text]


def room_for(exam, copies: int) -> int:
    """The tokens a partial launch needs to start the exam's first `copies` gradable copies
    (what the job's start reserves for them: estimate.reservation_for)."""
    from grading.services.estimate import job_estimate, reservation_for

    return reservation_for(job_estimate(exam=exam).lines[:copies])


def fractions_exam(owner, names=("Ada", "Béa", "Cid"), *, title="Contrôle de fractions", llm_server=None):
    """The partial-launch tests' exam: two questions, a one-page copy a name (« copie de <name> »);
    with `llm_server`, each copy's grades (2 and 3) scripted on it."""
    from tests.factories import copy_with_pages, exam_with_bareme

    exam = exam_with_bareme(owner=owner, questions=2, title=title)
    for name in names:
        copy_with_pages(exam, pages=1, label=name, text=f"copie de {name}")
        if llm_server is not None:
            llm_server.script(grades_json([2, 3]), match=f"copie de {name}")
    return exam


def copy_statuses(exam) -> list[str]:
    """The exam's copies' statuses, in upload order."""
    return list(exam.copies.order_by("pk").values_list("status", flat=True))
