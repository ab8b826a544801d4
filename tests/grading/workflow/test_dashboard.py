from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from grading.models import Copy, Exam
from grading.services.jobs import _job_create
from grading.tasks import copy_grade_task
from grading.views import exams as exam_views
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory, copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json
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


def test_it_shows_copies_average_and_cost(owner_client, teacher, llm_server):
    # A barème of 4 + 6 = 10 (not 20): the average is shown on the barème's own total.
    exam = exam_with_bareme(owner=teacher, questions=2, title="Fractions")
    graded = [copy_with_pages(exam, pages=1, label=name) for name in ("Léa", "Hugo")]
    copy_with_pages(exam, pages=1, label="Zoé")  # not graded yet
    job = _job_create(exam=exam, user=teacher, copies=graded, estimate_tokens=50_000)
    for copy, points in zip(graded, ([3, 4], [1, 0.5]), strict=True):
        llm_server.script(grades_json(points))
        copy.refresh_from_db()
        assert copy_grade_task.apply(args=[copy.pk, job.pk, copy.attempt]).get() == Copy.Status.DONE

    response = owner_client.get(reverse("dashboard"))
    exam_row, average = response.context["rows"][0]
    assert exam_row.copies_count == 3
    assert average == Decimal("4.25")  # (7 + 1.5) / 2
    ledger = UsageRecord.objects.filter(exam=exam)
    assert ledger.count() == 2 and exam_row.cost == sum(r.total_cost for r in ledger) > 0
    assert "4,25 / 10" in response.text
    euros = exam_row.cost * settings.USD_EUR_RATE  # providers bill in USD; teachers read euros
    shown = "<\xa00,01" if euros < Decimal("0.005") else f"{euros:.2f}".replace(".", ",")
    assert f"{shown}\xa0€" in response.text


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
    # 11: session, user, count, exams, whether the teacher administers a school (navigation),
    # the bar's allowance, school memberships, held reservations and ledger sum, and the
    # agreement figures (the page's exams, the teacher's recent exams).
    with django_assert_max_num_queries(11):
        response = owner_client.get(reverse("dashboard"))
    assert len(response.context["rows"]) == 200
