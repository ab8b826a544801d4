"""A double-corrected copy graded through the scripted LLM server, the two graders disagreeing.

q1 (/4): A gives 3, B 3.25 — close enough to agree at once.
q2 (/6): A gives 2, B 5 — a dispute, so both verify: A 3, B 4.5, still apart (averaged).
Each answer's reading and reasoning names its grader, so a page can be checked for both.
"""

from __future__ import annotations

import json

from .helpers import from_model, grades_json

GRADER_A = "openai/gpt-4o"
GRADER_B = "openai/gpt-4.1-mini"

READINGS = {
    "a": ["x = 3 car 12 / 4 = 3 (lecture A)", "Le triangle ABC est rectangle en B (lecture A)"],
    "b": ["x = 3 car 12 / 4 = 3 (lecture B)", "Le triangle ABC est rectangle en B (lecture B)"],
}
REASONINGS = {
    "a": ["A : méthode juste, résultat exact.", "A : la réciproque de Pythagore manque."],
    "b": ["B : calcul juste mais peu justifié.", "B : Pythagore bien appliqué."],
}
POINTS = {"a": [3, 2], "b": [3.25, 5]}
VERIFIED = {
    "a": (3, "q2 relue par A", "A après vérification : la réciproque est citée."),
    "b": (4.5, "q2 relue par B", "B après vérification : justification partielle."),
}


def _verified_json(slot: str) -> str:
    points, reading, reasoning = VERIFIED[slot]
    question = {
        "id": "q2",
        "points": points,
        "reading": reading,
        "reasoning": reasoning,
        "feedback": f"Conseil de {slot.upper()} après vérification.",
        "confidence": 0.7,
    }
    return json.dumps({"questions": [question], "manipulation": {"flag": False, "reason": ""}})


def script_two_graders(server, *, latency: float | None = None) -> None:
    """Queues both graders' answers (each after `latency` seconds), then their verification
    answers, on `server`."""
    for slot, model in (("a", GRADER_A), ("b", GRADER_B)):
        grading = from_model(model)
        server.script(
            grades_json(POINTS[slot], readings=READINGS[slot], reasonings=REASONINGS[slot], confidence=0.9),
            match=lambda request, grading=grading: grading(request) and "[TASK:verify]" not in request["text"],
            latency=latency,
        )
        server.script(
            _verified_json(slot),
            match=lambda request, grading=grading: grading(request) and "[TASK:verify]" in request["text"],
        )
