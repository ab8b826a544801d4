from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from grading.models import Exam
from grading.views import exams as exam_views
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def test_it_leads_a_new_teacher_to_a_new_exam(owner_client):
    response = owner_client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Vous n'avez encore aucune correction." in response.text
    assert reverse("exam_create") in response.text


def test_anonymous_visitors_get_the_front_page_instead(client):
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert "Mes corrections" not in response.text
    assert reverse("account_login") in response.text


def test_it_lists_only_the_teachers_exams_newest_first(owner_client, teacher, other_teacher):
    ExamFactory(owner=teacher, title="Ancien contrôle")
    ExamFactory(owner=teacher, title="Nouveau contrôle")
    ExamFactory(owner=other_teacher, title="Pas le mien")
    text = owner_client.get(reverse("dashboard")).text
    assert text.index("Nouveau contrôle") < text.index("Ancien contrôle")
    assert "Pas le mien" not in text


def test_it_shows_copies_average_and_cost(owner_client, teacher):
    exam = ExamFactory(owner=teacher, title="Fractions")
    q1 = QuestionFactory(exam=exam, max_points=Decimal("10"))
    q2 = QuestionFactory(exam=exam, max_points=Decimal("10"))
    a, b = CopyFactory(exam=exam), CopyFactory(exam=exam)
    CopyFactory(exam=exam, status="queued")
    GradeFactory(copy=a, question=q1, points=Decimal("8"))
    GradeFactory(copy=a, question=q2, points=Decimal("6"))
    GradeFactory(copy=b, question=q1, points=Decimal("4"))
    GradeFactory(copy=b, question=q2, points=Decimal("2"))
    for i, cost in enumerate(("0.25", "0.50")):
        UsageRecord.objects.create(
            user=teacher, exam=exam, phase="grading", model="m", total_cost=Decimal(cost), idempotency_key=f"k{i}"
        )
    response = owner_client.get(reverse("dashboard"))
    row = response.context["rows"][0]
    exam_row, average = row
    assert exam_row.copies_count == 3
    assert average == Decimal("10")
    assert exam_row.cost == Decimal("0.75")
    assert "10,00 / 20" in response.text
    assert "0,75 $" in response.text


def test_it_filters_by_status(owner_client, teacher):
    ExamFactory(owner=teacher, title="Brouillon A", status=Exam.Status.DRAFT)
    ExamFactory(owner=teacher, title="Corrigée B", status=Exam.Status.GRADED)
    text = owner_client.get(reverse("dashboard"), {"status": "graded"}).text
    assert "Corrigée B" in text
    assert "Brouillon A" not in text


def test_it_paginates(owner_client, teacher):
    ExamFactory.create_batch(25, owner=teacher)
    first = owner_client.get(reverse("dashboard"))
    second = owner_client.get(reverse("dashboard"), {"page": 2})
    assert len(first.context["rows"]) == 20
    assert len(second.context["rows"]) == 5


def test_it_renders_two_hundred_exams_in_a_constant_number_of_queries(
    owner_client, teacher, django_assert_max_num_queries, monkeypatch
):
    exams = ExamFactory.create_batch(200, owner=teacher)
    for exam in exams[:40]:
        question = QuestionFactory(exam=exam)
        GradeFactory(copy=CopyFactory(exam=exam), question=question)
    monkeypatch.setattr(exam_views, "DASHBOARD_PAGE_SIZE", 200)
    with django_assert_max_num_queries(8):
        response = owner_client.get(reverse("dashboard"))
    assert len(response.context["rows"]) == 200
