from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory

pytestmark = pytest.mark.django_db


def test_the_api_lists_only_the_teachers_exams(owner_client, teacher, other_teacher):
    exam = ExamFactory(owner=teacher, title="Fractions")
    GradeFactory(copy=CopyFactory(exam=exam), question=QuestionFactory(exam=exam, max_points=Decimal("4")))
    ExamFactory(owner=other_teacher, title="Pas le mien")
    body = owner_client.get(reverse("api_exam_list")).json()
    assert [(e["title"], e["copies"], e["average"]) for e in body["results"]] == [("Fractions", 1, "1.50")]


def test_the_api_gives_the_grades_with_their_audit(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    GradeFactory(copy=CopyFactory(exam=exam, student_label="Léa"), question=QuestionFactory(exam=exam))
    body = owner_client.get(reverse("api_exam_grades", args=[exam.pk])).json()
    assert body["copies"][0]["student"] == "Léa"
    assert body["copies"][0]["grades"][0]["edits"] == []


def test_the_api_refuses_anonymous_clients(client, teacher):
    assert client.get(reverse("api_exam_list")).status_code in (401, 403)
