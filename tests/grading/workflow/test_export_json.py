"""The JSON export's model answers, from a copy graded by the engine against the scripted
server (double correction: each grader's answer of each round is kept apart), and its grades in the
question order with a question not graded left out."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from grading import services
from grading.models import ModelAnswer
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json
from usage.models import UsageRecord
from usage.selectors import usage_exam_cost_json

# mutation: opted into `make mutation` (tests/conftest.py) though it grades through the server.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french"), pytest.mark.mutation]


def test_the_json_keeps_each_graders_answer_of_each_round(owner_client, teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copy = copy_with_pages(exam, pages=1, label="Léa")
    llm_server.script(grades_json([3, 5]))
    job = services.job_start(exam=exam, user=teacher)
    copy.refresh_from_db()
    services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")

    raw = owner_client.get(reverse("exam_export", args=[exam.pk, "json"])).content
    assert raw.startswith(b'{\n  "') and '"student": "Léa"'.encode() in raw  # indented, UTF-8 as is
    data = json.loads(raw)

    [lea] = data["copies"]
    answers = list(ModelAnswer.objects.filter(copy=copy).order_by("created_at", "id"))
    assert [(answer.phase, answer.slot) for answer in answers] == [
        ("grading", "a"),
        ("grading", "b"),
        ("verification", "a"),
        ("verification", "b"),
    ]
    assert lea["model_answers"] == [
        {
            "attempt": answer.attempt,
            "phase": answer.phase,
            "slot": answer.slot,
            "repair": False,
            "model": answer.model,
            "grades": answer.get_grades().model_dump(),
            "error": "",
        }
        for answer in answers
    ]
    grades = list(copy.grades.order_by("question__order"))
    assert [g["points"] for g in lea["grades"]] == [str(grade.points) for grade in grades]
    total = sum(grade.points for grade in grades)
    assert (lea["total"], lea["on_twenty"]) == (str(total), str((total * 2).quantize(Decimal("0.01"))))  # /10 → /20


def test_the_json_shows_an_unusable_answer_who_made_each_edit_stale_feedback_zero_and_missing_marks(
    owner_client, teacher, llm_server
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)  # /4 and /6: out of 10
    hugo = copy_with_pages(exam, pages=1, label="Hugo")
    lea = copy_with_pages(exam, pages=1, label="Léa")
    job = services.job_start(exam=exam, user=teacher)
    llm_server.script(fault="malformed")  # Hugo's first answer is unusable: repaired once
    llm_server.script(grades_json([3, 5]))
    llm_server.script(grades_json([0, 0]))
    for copy in (hugo, lea):
        copy.refresh_from_db()
        services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")
    q1, q2 = exam.questions.order_by("order")
    services.grade_edit(grade=hugo.grades.get(question=q1), user=teacher, points=Decimal("4"))
    # Sent back to the engine, replacing her edit: the engine's new points, audited as nobody's.
    hugo.refresh_from_db()
    rerun = services.copy_rerun(copy=hugo, overwrite_edits=True)
    llm_server.script(grades_json([2, 5]))
    hugo.refresh_from_db()
    services.copy_grade(copy_id=hugo.pk, job_id=rerun.pk, attempt=hugo.attempt, lease_owner="test-task")
    services.grade_edit(grade=hugo.grades.get(question=q2), user=teacher, points=Decimal("6"))  # her comment unchanged
    ines = copy_with_pages(exam, pages=1, label="Inès")  # uploaded since: not graded
    services.exam_files_purge(exam=exam, reason="retention")
    exam.refresh_from_db()

    data = json.loads(owner_client.get(reverse("exam_export", args=[exam.pk, "json"])).content)

    copies = {c["student"]: c for c in data["copies"]}
    assert (copies["Léa"]["total"], copies["Léa"]["on_twenty"]) == ("0.00", "0.00")  # zero, not missing
    assert (copies["Inès"]["id"], copies["Inès"]["total"], copies["Inès"]["on_twenty"]) == (ines.pk, None, None)
    assert copies["Inès"]["grades"] == copies["Inès"]["model_answers"] == []
    first, second = copies["Hugo"]["grades"]
    assert [(e["user"], e["field"], e["before"], e["after"]) for e in first["edits"]] == [
        (teacher.email, "points", "3.00", "4"),
        (None, "points", "4.00", "2.00"),
    ]
    assert (first["points"], first["feedback_stale"]) == ("2.00", False)
    assert (second["points"], second["ai_points"], second["feedback_stale"]) == ("6.00", "5.00", True)
    unusable, repaired = copies["Hugo"]["model_answers"][:2]
    assert (unusable["repair"], unusable["grades"], repaired["repair"]) == (False, None, True)
    assert unusable["error"] and repaired["grades"]["questions"][0]["points"] == 3
    assert data["exam"]["files_purged_at"] == exam.files_purged_at.isoformat()
    spent = UsageRecord.objects.filter(exam=exam).aggregate(t=Sum("total_tokens"))["t"]
    assert spent > 0 and data["cost"]["total"]["total_tokens"] == spent
    assert data["cost"] == usage_exam_cost_json(exam_id=exam.pk)
