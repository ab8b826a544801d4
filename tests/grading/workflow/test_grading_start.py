from __future__ import annotations

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grading.models import Copy, GradingJob
from grading.services.estimate import copy_estimate, job_estimate
from tests.factories import CopyFactory, copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json
from tests.support.counts import grouped, tokens
from usage.services import usage_record
from usage.tiers import TIER_LIMITS, Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    exam = exam_with_bareme(owner=teacher, questions=2)
    copy_with_pages(exam, pages=1, label="Léa")
    copy_with_pages(exam, pages=2, label="Hugo")
    return exam


def test_the_exam_page_shows_the_estimate_and_the_remaining_allowance(owner_client, exam, llm_server):
    response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    estimate = response.context["estimate"]
    léa, hugo = (copy_estimate(copy=exam.copies.get(student_label=name)).tokens for name in ("Léa", "Hugo"))
    assert estimate.copies == 2 and estimate.tokens == léa + hugo
    assert 0 < léa < hugo  # a page more, more tokens
    assert response.context["remaining"] == TIER_LIMITS[Tier.FREE]
    assert "Lancer la correction" in response.text
    assert f'ws-connect="/ws/events/exam-{exam.pk}/"' in response.text
    assert 'id="grading-progress"' in response.text


def test_a_misconfigured_model_is_explained(owner_client, exam, settings):
    settings.CORRIGO_DEMO_MODE = False
    settings.CORRIGO_LLM = {}
    response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert response.context["estimate"] is None
    assert response.context["estimate_error"]
    assert html.escape(response.context["estimate_error"]) in response.text


def test_starting_grades_every_copy(owner_client, exam, llm_server, eager_celery, django_capture_on_commit_callbacks):
    llm_server.script(content=grades_json([3, 4]), times=10)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("exam_start", args=[exam.pk]))
    assert response.status_code == 302
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    assert exam.copies.get(student_label="Léa").grades.count() == 2


def _leave(teacher, tokens: int) -> None:
    """Spends the allowance, through the ledger, down to `tokens` left."""
    usage_record(
        user=teacher,
        phase="grading",
        model="openai/gpt-4o",
        prompt_tokens=TIER_LIMITS[Tier.FREE] - tokens,
        completion_tokens=0,
        idempotency_key="earlier-exam",
    )


def test_it_says_how_many_tokens_are_missing_one_token_short(owner_client, teacher, exam, llm_server):
    # What a start reserves: every copy's estimate plus one copy's margin up to its worst case.
    needed = job_estimate(exam=exam).reservation
    _leave(teacher, needed - 1)
    response = owner_client.post(reverse("exam_start", args=[exam.pk]))
    assert response.status_code == 200
    error = response.context["quota_error"]
    assert (error.missing, error.remaining) == (1, needed - 1)
    page = html.unescape(response.text)
    assert "Votre allocation ne couvre pas les 2 copies : elle permet d'en corriger 1 maintenant." in page
    assert "(il manque 1 jeton :" in page
    assert not GradingJob.objects.exists()


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("short", [1, 2, None])  # None: nothing left, the whole reservation (thousands) missing
def test_the_tokens_missing_agree_with_their_count(owner_client, teacher, exam, llm_server, language, short):
    # A refusal always misses at least one token (exactly what is left starts: the test below).
    teacher.language = language
    teacher.save(update_fields=["language"])
    needed = job_estimate(exam=exam).reservation
    missing = short or needed
    _leave(teacher, needed - missing)
    page = html.unescape(owner_client.post(reverse("exam_start", args=[exam.pk])).text)
    left, all_ = grouped(needed - missing, language), grouped(needed, language)
    expected = {
        "fr": f"(il manque {tokens(missing, language)} : il en reste {left}, il en faut {all_})",
        "en": f"({tokens(missing, language)} missing: {left} left, {all_} needed)",
    }
    assert needed > 1_000 and expected[language] in page


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("left", [0, 1, 2, 1_234])
def test_the_tokens_left_on_the_exam_page_agree_with_their_count(
    owner_client, teacher, exam, llm_server, language, left
):
    teacher.language = language
    teacher.save(update_fields=["language"])
    _leave(teacher, left)
    page = html.unescape(owner_client.get(reverse("exam_detail", args=[exam.pk])).text)
    assert f"({tokens(left, language)})</span>" in page


def test_a_job_that_needs_exactly_what_is_left_starts(owner_client, teacher, exam, llm_server):
    _leave(teacher, job_estimate(exam=exam).reservation)
    response = owner_client.post(reverse("exam_start", args=[exam.pk]))
    assert response.status_code == 302
    assert GradingJob.objects.filter(exam=exam).count() == 1


def test_a_running_job_can_be_cancelled(owner_client, teacher, exam, llm_server):
    from grading.services import job_start

    job = job_start(exam=exam, user=teacher)
    page = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert "Annuler la correction" in page.text
    owner_client.post(reverse("exam_cancel", args=[exam.pk]))
    job.refresh_from_db()
    assert job.status == GradingJob.Status.CANCELLED


def test_the_progress_fragment_can_be_fetched_when_the_websocket_opens(owner_client, exam):
    response = owner_client.get(reverse("exam_progress", args=[exam.pk]))
    assert response.text.strip().startswith('<section id="grading-progress"')
    assert "hx-swap-oob" not in response.text


def test_graded_copies_are_not_said_to_have_their_pages_in_preparation(owner_client, exam, llm_server):
    exam.copies.update(status=Copy.Status.DONE)
    response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert response.context["estimate"].copies == 0
    assert "pages en préparation" not in response.text


def test_a_copy_whose_pages_are_not_rendered_yet_is_counted_as_in_preparation(owner_client, exam, llm_server):
    CopyFactory(exam=exam, student_label="Inès", status=Copy.Status.QUEUED)
    response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert "sur 3 (pages en préparation)" in response.text


def test_the_exam_page_of_35_copies_takes_a_constant_number_of_queries(owner_client, teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, questions=10)
    for n in range(5):
        copy_with_pages(exam, pages=2, label=f"Élève {n:02d}")
    owner_client.get(reverse("exam_detail", args=[exam.pk]))  # reads the operator's prices, kept a minute
    with CaptureQueriesContext(connection) as five:
        owner_client.get(reverse("exam_detail", args=[exam.pk]))
    for n in range(5, 35):
        copy_with_pages(exam, pages=2, label=f"Élève {n:02d}")
    with CaptureQueriesContext(connection) as thirty_five:
        response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert response.context["estimate"].copies == 35
    # The same count whatever the class size (31 at both sizes since the navigation asks whether
    # the teacher runs a school, 32 with the « accord IA / enseignant » figures, 34 with the
    # calibration round's offer: the exam's round and the copies it may take; it was 92 while
    # the estimate read prices per copy).
    assert len(thirty_five) == len(five)
    assert len(thirty_five) <= 34


def test_the_progress_counts_this_jobs_cost_and_leads_to_the_grades_once_it_ends(owner_client, teacher, grade_exam):
    from django.db.models import Sum

    from grading.selectors import progress_context, progress_html
    from usage.models import UsageRecord

    exam = exam_with_bareme(owner=teacher, questions=1)
    grade_exam(exam, {"Léa": [1], "Hugo": [2]})
    grade_exam(exam, {"Zoé": [3]})  # a second job, for the copy added since

    second = exam.jobs.order_by("-started_at", "-pk").first()
    assert second.total_copies == 1
    calls = UsageRecord.objects.filter(reservation__key__startswith=second.reservation_key)
    job_cost = calls.aggregate(c=Sum("total_cost"))["c"]
    exam_cost = UsageRecord.objects.filter(exam=exam).aggregate(c=Sum("total_cost"))["c"]
    assert 0 < job_cost < exam_cost
    assert progress_context(exam=exam)["cost"] == job_cost
    fragment = html.unescape(progress_html(exam=exam, oob=False))
    assert "coût de cette correction" in fragment
    assert f'href="{reverse("exam_review", args=[exam.pk])}" data-testid="see-grades">Voir les notes →' in fragment


def test_a_running_job_offers_no_link_to_the_grades_yet(owner_client, exam, llm_server):
    from grading.selectors import progress_html

    owner_client.post(reverse("exam_start", args=[exam.pk]))  # on commit: never run here
    assert exam.jobs.filter(status=GradingJob.Status.RUNNING).exists()
    assert 'data-testid="see-grades"' not in progress_html(exam=exam, oob=False)


def test_a_copys_live_change_updates_its_status_in_the_copies_table_too(owner_client, exam, llm_server):
    from grading.selectors import progress_delta_html

    owner_client.post(reverse("exam_start", args=[exam.pk]))  # on commit: never run here
    lea = exam.copies.get(student_label="Léa")
    lea.transition(source=[Copy.Status.QUEUED], target=Copy.Status.DONE)
    page = owner_client.get(reverse("exam_detail", args=[exam.pk])).text
    assert f'<span id="copy-badge-{lea.pk}" class="badge badge-done">Terminée</span>' in page

    delta = progress_delta_html(exam=exam, copy_ids=[lea.pk])

    # The event swaps the table's badge by the same id, with the live list's status.
    assert f'<span id="copy-badge-{lea.pk}" class="badge badge-done" hx-swap-oob="true">Terminée</span>' in delta
    hugo = exam.copies.get(student_label="Hugo")
    assert f'id="copy-badge-{hugo.pk}"' not in delta  # only the copies that changed
