"""Grading jobs: start, retries on provider faults, failures, quota, cancel, re-run, finalize."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import translation

from grading import services
from grading.engine.errors import ModelMisconfigured
from grading.errors import WorkflowError
from grading.models import Copy, Exam, GradingJob
from grading.services import copy_grading
from grading.services.jobs import _job_create
from tests.factories import copy_with_pages, exam_with_bareme
from usage.models import Reservation, UsageRecord
from usage.services import QuotaExceeded

from .helpers import grades_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


@pytest.fixture
def exam(teacher):
    return exam_with_bareme(owner=teacher, mode="single", questions=2)


def _run(job_start, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return job_start()


def test_a_job_reserves_tokens_grades_every_copy_then_settles_and_emails(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    copies = [copy_with_pages(exam, pages=2) for _ in range(3)]
    estimate = services.job_estimate(exam=exam)
    assert estimate.copies == 3 and estimate.calls == 3 and estimate.tokens > 0 and estimate.cost_usd > 0

    job = _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.status == GradingJob.Status.FINISHED and job.total_copies == 3
    assert all(Copy.objects.get(pk=c.pk).status == Copy.Status.DONE for c in copies)
    reservation = Reservation.objects.get(key=job.reservation_key)
    assert reservation.state == Reservation.State.SETTLED
    # Each copy held its rounds' worst case, drawn from the job's estimate first, and settled
    # to what it spent: the ledger.
    units = Reservation.objects.filter(key__startswith=f"{job.reservation_key}:")
    assert units.count() == 3 and {unit.state for unit in units} == {Reservation.State.SETTLED}
    assert reservation.tokens < estimate.tokens
    # Each held its first round's worst case as the estimate counts it, no more: the worker
    # reckons it the same way, and a round the start gave is granted on one read.
    firsts = {f"{job.reservation_key}:c{line.copy_id}:1": line.first for line in estimate.lines}
    assert dict(units.values_list("key", "tokens")) == firsts
    spent = sum(UsageRecord.objects.filter(exam=exam).values_list("total_tokens", flat=True))
    assert sum(unit.tokens_used for unit in units) == spent
    assert reservation.tokens_used == spent  # the job's own line in the admin: what its copies spent
    exam.refresh_from_db()
    assert exam.status == Exam.Status.GRADED
    assert len(mail.outbox) == 1 and exam.title in mail.outbox[0].subject
    assert "3 copies corrigées sur 3" in mail.outbox[0].body


def test_a_teacher_who_opted_out_gets_no_email(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    teacher.notify_job_finished = False
    teacher.save()
    copy_with_pages(exam, pages=1)
    _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)
    assert mail.outbox == []


@pytest.mark.parametrize("fault", ["429", "500", "timeout"])
def test_transient_faults_are_retried_and_the_copy_is_graded(
    fault, llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    llm_server.timeout_sleep = 3
    copy = copy_with_pages(exam, pages=1)
    llm_server.script(fault=fault, times=2)
    llm_server.script(grades_json([1, 2]))

    job = _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)

    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE
    assert [r.fault for r in llm_server.requests] == [fault, fault, None]
    assert UsageRecord.objects.filter(copy=copy).count() == 1  # failed calls are not billed
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED


def test_a_provider_down_for_good_fails_the_copy_and_the_job_still_finishes(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    down, fine = copy_with_pages(exam, pages=1, label="Absente"), copy_with_pages(exam, pages=1, label="Présente")
    llm_server.script(fault="500", times=7, match=lambda r: "Absente page" in r["text"] or True)
    llm_server.script(grades_json([1, 1]))

    job = _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)

    down.refresh_from_db()
    fine.refresh_from_db()
    assert down.status == Copy.Status.FAILED and "indisponible après 7 tentatives" in down.failure_text
    assert fine.status == Copy.Status.DONE
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED


def test_a_permanent_error_fails_the_copy_at_once_with_a_readable_reason(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    copy = copy_with_pages(exam, pages=1)
    llm_server.script(fault="400")
    _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)
    copy.refresh_from_db()
    assert copy.status == Copy.Status.FAILED and "refusé la requête" in copy.failure_text
    assert len(llm_server.requests) == 1


def test_a_failed_copy_can_be_rerun_alone(llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks):
    failed, _graded = copy_with_pages(exam, pages=1), copy_with_pages(exam, pages=1)
    llm_server.script(fault="400")
    _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)
    failed.refresh_from_db()
    assert failed.status == Copy.Status.FAILED
    calls = len(llm_server.requests)

    rerun = _run(lambda: services.copy_rerun(copy=failed), django_capture_on_commit_callbacks)

    failed.refresh_from_db()
    assert failed.status == Copy.Status.DONE and failed.attempt == 2
    assert len(llm_server.requests) == calls + 1  # only the failed copy was graded again
    rerun.refresh_from_db()
    assert rerun.total_copies == 1 and rerun.status == GradingJob.Status.FINISHED
    with pytest.raises(WorkflowError, match="en cours de correction"):
        services.copy_rerun(copy=copy_with_pages(exam, pages=1))  # queued: not graded yet


def test_a_job_beyond_the_allowance_is_refused_before_anything_runs(llm_server, exam, teacher):
    copy_with_pages(exam, pages=1)
    # One token short of the reservation: the estimate plus the copy's margin to its worst case.
    _leave(teacher, services.job_estimate(exam=exam).reservation - 1)
    with pytest.raises(QuotaExceeded) as refusal:
        services.job_start(exam=exam, user=teacher)
    assert refusal.value.missing == 1
    assert not GradingJob.objects.exists() and llm_server.requests == []


def _leave(user, tokens: int) -> None:
    """Earlier usage (another exam's calls) leaving `tokens` of the FREE allowance."""
    from usage.services import usage_record
    from usage.tiers import TIER_LIMITS

    usage_record(
        user=user,
        phase="grading",
        model="openai/gpt-4o",
        prompt_tokens=TIER_LIMITS["free"] - tokens,
        completion_tokens=0,
        idempotency_key=f"earlier-{user.pk}",
    )


def _first_round_worst(copy) -> int:
    from grading.engine.prompts import exam_context
    from grading.services.estimate import copy_first_round_worst, slot_configs
    from grading.services.subject_pages import subject_prompt_pages

    ctx = exam_context(copy.exam, subject_pages=subject_prompt_pages(exam=copy.exam))
    return copy_first_round_worst(copy, configs=slot_configs(copy.exam), ctx=ctx)


@pytest.mark.parametrize(("spare", "graded"), [(0, True), (-1, False), (1, True)])
def test_a_copy_starts_only_if_the_allowance_holds_its_worst_case(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks, settings, spare, graded
):
    """Exactly enough for the copy's worst case (prompt bound + the answer's cap): graded; one
    token less: "quota reached" with the reason, resumable, and no call made."""
    from usage.selectors import usage_summary

    settings.CORRIGO_LLM_MAX_TOKENS = 2000
    copy = copy_with_pages(exam, pages=1)
    _leave(teacher, _first_round_worst(copy) + spare)
    llm_server.script(completion_tokens="max")  # the answer billed at its cap

    with django_capture_on_commit_callbacks(execute=True):
        job = _job_create(exam=exam, user=teacher, copies=[copy], estimate_tokens=0)

    copy.refresh_from_db()
    if graded:
        assert copy.status == Copy.Status.DONE and len(llm_server.requests) == 1
        assert llm_server.requests[0].usage["completion_tokens"] == 2000
    else:
        assert copy.status == Copy.Status.QUOTA_REACHED and llm_server.requests == []
        assert copy.failure_text.startswith("Allocation de jetons épuisée")
    summary = usage_summary(user=teacher)
    assert summary.tokens_used <= summary.limit and summary.reserved == 0
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED
    assert not Reservation.objects.filter(state=Reservation.State.HELD).exists()


def test_a_jobs_start_gives_its_first_copies_their_first_round_from_its_reservation(llm_server, exam, teacher):
    copies = [copy_with_pages(exam, pages=1) for _ in range(3)]
    lines = services.job_estimate(exam=exam).lines
    reserved = lines[0].tokens + lines[1].tokens + lines[2].tokens + max(line.worst - line.tokens for line in lines)
    covered = next(count for count in range(3, -1, -1) if sum(line.first for line in lines[:count]) <= reserved)

    job = services.job_start(exam=exam, user=teacher)  # no on-commit: nothing is enqueued

    units = dict(Reservation.objects.filter(key__startswith=f"{job.reservation_key}:").values_list("key", "tokens"))
    assert units == {f"{job.reservation_key}:c{copy.pk}:1": lines[0].first for copy in copies[:covered]}
    assert Reservation.objects.get(key=job.reservation_key).tokens == reserved - sum(units.values())
    assert covered > 0


def test_a_cancelled_job_stops_its_queued_copies_and_settles_once(llm_server, exam, teacher):
    copies = [copy_with_pages(exam, pages=1) for _ in range(2)]
    job = services.job_start(exam=exam, user=teacher)  # no on-commit: nothing is enqueued

    services.job_cancel(job=job)
    services.job_cancel(job=job)

    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.CANCELLED
    assert {Copy.objects.get(pk=c.pk).status for c in copies} == {Copy.Status.CANCELLED}
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.SETTLED
    # A task delivered after the cancel does nothing.
    attempt = Copy.objects.get(pk=copies[0].pk).attempt
    grade = services.copy_grade(copy_id=copies[0].pk, job_id=job.pk, attempt=attempt, lease_owner="late-task")
    assert grade == Copy.Status.CANCELLED
    assert llm_server.requests == []


def test_only_one_job_runs_per_exam(llm_server, exam, teacher):
    copy_with_pages(exam, pages=1)
    services.job_start(exam=exam, user=teacher)
    copy_with_pages(exam, pages=1)
    with pytest.raises(WorkflowError, match="déjà en cours"):
        services.job_start(exam=exam, user=teacher)


def test_a_model_without_a_price_or_a_key_is_refused_before_the_job_starts(llm_server, settings, exam, teacher):
    copy_with_pages(exam, pages=1)
    settings.CORRIGO_LLM = {
        **settings.CORRIGO_LLM,
        "grader_a": {"model": "openai/my-own-model", "api_base": llm_server.url},
    }
    with pytest.raises(ModelMisconfigured, match="n'a pas de prix"):
        services.job_start(exam=exam, user=teacher)
    settings.CORRIGO_LLM = {**settings.CORRIGO_LLM, "grader_a": {"model": "anthropic/claude-sonnet-4-5"}}
    with pytest.raises(ModelMisconfigured, match="ANTHROPIC_API_KEY"):
        services.job_start(exam=exam, user=teacher)
    settings.CORRIGO_LLM = {**settings.CORRIGO_LLM, "grader_a": {"model": ""}}
    with pytest.raises(ModelMisconfigured, match="CORRIGO_LLM_GRADER_A_MODEL"):
        services.job_estimate(exam=exam)
    assert not GradingJob.objects.exists()


def test_an_exam_without_barème_or_copies_cannot_start(llm_server, teacher):
    empty = exam_with_bareme(owner=teacher, questions=0)
    copy_with_pages(empty, pages=1)
    with pytest.raises(WorkflowError, match="barème"):
        services.job_start(exam=empty, user=teacher)
    no_copies = exam_with_bareme(owner=teacher, questions=1)
    with pytest.raises(WorkflowError, match="déposez d'abord les copies"):
        services.job_start(exam=no_copies, user=teacher)


def test_starting_again_when_every_copy_is_graded_says_so(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy = copy_with_pages(exam, pages=1)
    copy.status = Copy.Status.DONE
    copy.save()
    with pytest.raises(WorkflowError, match="déjà corrigées"):
        services.job_start(exam=exam, user=teacher)


def test_an_unexpected_error_fails_the_copy_and_the_job_still_finishes(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks, monkeypatch
):
    copies = [copy_with_pages(exam, pages=1) for _ in range(2)]
    real = copy_grading.grade_copy
    calls = {"n": 0}

    def grade_copy_breaking_once(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug")
        return real(**kwargs)

    monkeypatch.setattr(copy_grading, "grade_copy", grade_copy_breaking_once)

    job = _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)

    statuses = sorted(Copy.objects.get(pk=c.pk).status for c in copies)
    assert statuses == sorted([Copy.Status.FAILED, Copy.Status.DONE])
    failed = Copy.objects.get(status=Copy.Status.FAILED)
    assert "relancer" in failed.failure_text
    job.refresh_from_db()
    assert job.status == GradingJob.Status.FINISHED


def test_the_finished_email_speaks_the_teachers_language_and_links_to_the_review(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks, settings
):
    from django.urls import reverse

    settings.SITE_URL = "https://corrigo.example"
    teacher.language = "en"
    teacher.save()
    copy_with_pages(exam, pages=1)
    _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)

    message = mail.outbox[0]
    assert message.subject == f"Grading finished: {exam.title}"
    assert "1 of 1 copies graded" in message.body
    assert "https://corrigo.example" + reverse("exam_review", args=[exam.pk]) in message.body


def test_a_failure_reason_is_read_in_the_language_of_its_reader(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    # Written while the teacher read English, read later by one who reads French, then English.
    teacher.language = "en"
    teacher.save()
    copy = copy_with_pages(exam, pages=1)
    llm_server.script(fault="400")
    _run(lambda: services.job_start(exam=exam, user=teacher), django_capture_on_commit_callbacks)
    copy.refresh_from_db()
    assert copy.failure_text.startswith("Le modèle a refusé la requête (BadRequestError) : ")
    with translation.override("en"):
        assert copy.failure_text.startswith("The model refused the request (BadRequestError): ")
