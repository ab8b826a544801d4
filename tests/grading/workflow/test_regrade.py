"""« Corriger à nouveau » on a graded copy: the estimate is shown, the copy is graded again
through the engine, and what the teacher edited (points, feedback, appréciation) stays unless
they tick "replace my edits"; the button is only offered where it can act."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils import timezone, translation

from grading import services
from grading.models import Copy, GradeEdit
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def edited(teacher, owner_client, grade_exam, llm_server):
    """Léa graded 1 and 2 (Q1 /4, Q2 /6); the teacher then sets Q1 to 3, rewrites Q2's
    feedback, has the appréciation drafted and rewrites it."""
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5")), {"Léa": [1, 2]})
    copy = exam.copies.get()
    q1, q2 = copy.grades.order_by("question__order")
    owner_client.post(reverse("grade_update", args=[q1.pk]), {"points": "3"})
    owner_client.post(reverse("grade_feedback", args=[q2.pk]), {"feedback": "Mon conseil à moi."})
    owner_client.post(reverse("copy_appreciation", args=[copy.pk]), {"action": "draft"})
    owner_client.post(reverse("copy_appreciation", args=[copy.pk]), {"appreciation": "Mon appréciation."})
    return copy


def _regrade(client, copy, capture, llm_server, **data):
    llm_server.script(grades_json([2, 4], feedbacks=["Nouveau q1.", "Nouveau q2."]), match="copie de Léa")
    with capture(execute=True):
        response = client.post(reverse("copy_regrade", args=[copy.pk]), data, follow=True)
    copy.refresh_from_db()
    return html.unescape(response.text)


def _grades(copy):
    return [
        (g.points, g.ai_points, g.edited, g.feedback, g.ai_feedback) for g in copy.grades.order_by("question__order")
    ]


def test_the_copy_page_offers_it_with_the_estimate_and_the_edits_it_would_keep(owner_client, edited):
    page = html.unescape(owner_client.get(reverse("copy_detail", args=[edited.pk])).text)
    estimate = services.copy_estimate(copy=edited)
    assert estimate.tokens > 0
    with translation.override("fr"):
        tokens = intcomma(estimate.tokens)
    euros = estimate.cost_usd * settings.USD_EUR_RATE
    euros = "<\xa00,01" if euros < Decimal("0.005") else f"{euros:.2f}".replace(".", ",")
    assert f"coût estimé {euros}\xa0€ (≈ {tokens} jetons)" in page  # euros first, tokens as the detail
    # Q1's points, Q2's feedback and the appréciation.
    assert "Remplacer aussi mes modifications (3)" in page


def test_regrading_keeps_what_the_teacher_edited(owner_client, edited, llm_server, django_capture_on_commit_callbacks):
    page = _regrade(owner_client, edited, django_capture_on_commit_callbacks, llm_server)

    assert "La copie est renvoyée à la correction : vos modifications seront gardées." in page
    assert (edited.status, edited.attempt) == (Copy.Status.DONE, 2)
    assert _grades(edited) == [
        # The teacher's 3 stays (the engine now says 2); the engine's feedback is renewed.
        (D(3), D(2), True, "Nouveau q1.", "Nouveau q1."),
        # The engine's points are renewed; the teacher's feedback stays.
        (D(4), D(4), False, "Mon conseil à moi.", "Nouveau q2."),
    ]
    assert (edited.appreciation, edited.appreciation_stale) == ("Mon appréciation.", True)
    assert not GradeEdit.objects.filter(action="regrade").exists()


def test_ticking_replaces_the_edits_and_says_so_in_the_history(
    owner_client, edited, llm_server, django_capture_on_commit_callbacks
):
    page = _regrade(owner_client, edited, django_capture_on_commit_callbacks, llm_server, overwrite_edits="1")

    assert "vos modifications seront remplacées" in page
    assert _grades(edited) == [
        (D(2), D(2), False, "Nouveau q1.", "Nouveau q1."),
        (D(4), D(4), False, "Nouveau q2.", "Nouveau q2."),
    ]
    assert edited.appreciation == edited.appreciation_ai != "Mon appréciation."
    assert edited.appreciation_stale
    replaced = GradeEdit.objects.filter(action="regrade").order_by("field")
    assert [(e.field, e.before, e.after) for e in replaced] == [
        ("feedback", "Mon conseil à moi.", "Nouveau q2."),
        ("points", "3.00", "2.00"),
    ]
    history = html.unescape(owner_client.get(reverse("copy_detail", args=[edited.pk])).text)
    assert "(Nouvelle correction : modification remplacée)" in history


def test_the_button_is_only_shown_where_it_can_act(owner_client, teacher, edited):
    detail = reverse("copy_detail", args=[edited.pk])
    assert 'data-testid="regrade"' in owner_client.get(detail).text
    queued = copy_with_pages(edited.exam, pages=1, label="Hugo")  # waiting for its job
    assert 'data-testid="regrade"' not in owner_client.get(reverse("copy_detail", args=[queued.pk])).text
    edited.exam.files_purged_at = timezone.now()
    edited.exam.save(update_fields=["files_purged_at"])
    assert 'data-testid="regrade"' not in owner_client.get(detail).text


def test_without_a_teachers_edit_there_is_nothing_to_tick(owner_client, teacher, grade_exam):
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=1), {"Zoé": [2]})
    page = owner_client.get(reverse("copy_detail", args=[exam.copies.get().pk])).text
    assert 'data-testid="regrade"' in page and "overwrite_edits" not in page
