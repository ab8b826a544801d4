"""The JSON export's model answers, from a copy graded by the engine against the scripted
server (double correction: each grader's answer of each round is kept apart), and its grades in the
question order with a question not graded left out."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from grading import services
from grading.models import ModelAnswer
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json

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
