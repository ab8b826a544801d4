"""Copies left grading by a lost worker: failed after the bound, their job settled once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from grading import services
from grading.models import Copy, Exam, GradingJob
from grading.services.copy_grading import _verifying
from grading.tasks import copy_task_budget_s
from tests.factories import copy_with_pages, exam_with_bareme
from usage.models import Reservation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


@pytest.fixture
def exam(teacher):
    return exam_with_bareme(owner=teacher, mode="single", questions=2)


def _started(
    exam, user, django_capture_on_commit_callbacks, *, copies: int = 1, uploaded_days_ago: int = 0
) -> tuple[GradingJob, list[Copy]]:
    """A running job whose copies a worker took (grading), with no task left to finish them."""
    made = [copy_with_pages(exam, pages=1) for _ in range(copies)]
    uploaded = timezone.now() - timedelta(days=uploaded_days_ago)
    Copy.objects.filter(pk__in=[c.pk for c in made]).update(created_at=uploaded, updated_at=uploaded)
    with django_capture_on_commit_callbacks(execute=False):  # the worker dies: no task runs
        job = services.job_start(exam=exam, user=user)
    for copy in made:
        copy.refresh_from_db()
        assert copy.transition(source=[Copy.Status.QUEUED], target=Copy.Status.GRADING)
    return job, made


def _age(copy: Copy, *, hours: float) -> None:
    moment = timezone.now() - timedelta(hours=hours)
    Copy.objects.filter(pk=copy.pk).update(updated_at=moment)
    GradingJob.objects.filter(pk=copy.job_id).update(started_at=moment)


def test_a_copy_stuck_for_two_hours_is_failed_and_its_job_finishes_with_the_reservation_settled(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _age(copy, hours=2)

    assert services.copies_stuck_fail() == 1

    copy.refresh_from_db()
    assert copy.status == Copy.Status.FAILED
    assert copy.failure_reason.startswith("La correction de cette copie a été interrompue")
    assert "relancer" in copy.failure_reason
    job.refresh_from_db()
    assert job.status == GradingJob.Status.FINISHED and job.finished_at is not None
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.SETTLED
    exam.refresh_from_db()
    assert exam.status == Exam.Status.GRADED
    assert len(mail.outbox) == 1 and "0 copie(s) corrigée(s) sur 1" in mail.outbox[0].body


def test_a_failed_stuck_copy_can_be_rerun(llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks):
    from .helpers import grades_json

    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _age(copy, hours=2)
    services.copies_stuck_fail()
    llm_server.script(grades_json([1, 2]))

    with django_capture_on_commit_callbacks(execute=True):
        services.copy_rerun(copy=Copy.objects.get(pk=copy.pk))

    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE and copy.failure_reason == ""


def test_a_copy_that_started_grading_recently_is_left_alone(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    # Copies were created long ago: the clock is the move into grading, not the last save.
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks, uploaded_days_ago=3)
    GradingJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=2))

    assert services.copies_stuck_fail() == 0

    copy.refresh_from_db()
    assert copy.status == Copy.Status.GRADING
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.RUNNING
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.HELD


def test_entering_verification_restarts_the_clock(llm_server, exam, teacher, django_capture_on_commit_callbacks):
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _age(copy, hours=2)
    _verifying(Copy.objects.get(pk=copy.pk))

    assert services.copies_stuck_fail() == 0
    copy.refresh_from_db()
    assert copy.status == Copy.Status.VERIFYING and timezone.now() - copy.updated_at < timedelta(minutes=5)


def test_a_copy_that_finishes_while_the_reaper_runs_is_not_overwritten(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, monkeypatch
):
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _age(copy, hours=2)
    real_transition = Copy.transition

    def worker_finishes_first(self, **kwargs):
        # The late worker's own conditional UPDATE lands between the reaper's read and write.
        if kwargs.get("target") == Copy.Status.FAILED:
            Copy.objects.get(pk=self.pk).transition(
                source=(Copy.Status.GRADING, Copy.Status.VERIFYING), target=Copy.Status.DONE, failure_reason=""
            )
        return real_transition(self, **kwargs)

    monkeypatch.setattr(Copy, "transition", worker_finishes_first)

    assert services.copies_stuck_fail() == 0

    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE and copy.failure_reason == ""
    # Its worker died before finalizing: the reaper ends the job that nothing else will.
    job.refresh_from_db()
    assert job.status == GradingJob.Status.FINISHED
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.SETTLED


def test_a_copy_moved_on_since_the_reaper_read_it_is_not_failed(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, monkeypatch
):
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _age(copy, hours=2)
    real_transition = Copy.transition

    def worker_moves_to_verification_first(self, **kwargs):
        if kwargs.get("target") == Copy.Status.FAILED:
            _verifying(Copy.objects.get(pk=self.pk))
        return real_transition(self, **kwargs)

    monkeypatch.setattr(Copy, "transition", worker_moves_to_verification_first)

    assert services.copies_stuck_fail() == 0
    assert Copy.objects.get(pk=copy.pk).status == Copy.Status.VERIFYING


def test_running_the_reaper_twice_changes_nothing_more(llm_server, exam, teacher, django_capture_on_commit_callbacks):
    job, copies = _started(exam, teacher, django_capture_on_commit_callbacks, copies=2)
    for copy in copies:
        _age(copy, hours=2)
    assert services.copies_stuck_fail() == 2
    reservation = Reservation.objects.get(key=job.reservation_key)
    job.refresh_from_db()
    before = (
        job.finished_at,
        reservation.settled_at,
        reservation.tokens_used,
        list(Copy.objects.filter(job=job).values_list("status", "failure_reason", "updated_at")),
    )

    assert services.copies_stuck_fail() == 0

    job.refresh_from_db()
    reservation.refresh_from_db()
    after = (
        job.finished_at,
        reservation.settled_at,
        reservation.tokens_used,
        list(Copy.objects.filter(job=job).values_list("status", "failure_reason", "updated_at")),
    )
    assert after == before
    assert len(mail.outbox) == 1


def test_the_job_waits_for_its_other_copies_still_running(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    job, [stuck, alive] = _started(exam, teacher, django_capture_on_commit_callbacks, copies=2)
    _age(stuck, hours=2)

    assert services.copies_stuck_fail() == 1

    assert Copy.objects.get(pk=alive.pk).status == Copy.Status.GRADING
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.RUNNING
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.HELD
    assert mail.outbox == []


def test_the_reason_is_in_english_for_an_english_speaking_teacher(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    teacher.language = "en"
    teacher.save()
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _age(copy, hours=2)

    services.copies_stuck_fail()

    copy.refresh_from_db()
    assert copy.failure_reason.startswith("Grading of this copy was interrupted")
    assert "re-run" in copy.failure_reason


def test_the_bound_never_goes_below_the_copy_tasks_retry_budget(settings):
    settings.CORRIGO_STUCK_COPY_MINUTES = 1
    assert services.copy_stuck_after() == timedelta(seconds=copy_task_budget_s())
    settings.CORRIGO_STUCK_COPY_MINUTES = 45
    settings.CORRIGO_LLM_TIMEOUT = 120
    settings.CORRIGO_RETRY_CAP_S = 60
    assert copy_task_budget_s() < 45 * 60
    assert services.copy_stuck_after() == timedelta(minutes=45)


def test_the_beat_runs_the_reaper_every_ten_minutes(settings):
    from config.celery import app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "grading.copies_stuck_fail")
    assert entry["schedule"] == 600.0
    assert "grading.copies_stuck_fail" in app.tasks
