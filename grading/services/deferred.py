"""Copies queued for later: what a partial launch left out (Copy.Status.DEFERRED) starts when
the allowance comes back — a plan change (usage.services.allowance_changed, sent when billing
or an operator sets the tier or the period), a new period (the beat, every 15 minutes), a job's
reservation settled (usage.services.allowance_released: a job finished or cancelled gives back
what it held and did not spend — its failed copies' share, the margin of its estimate — or a
lost worker's reservation expired), or through a school (grading.receivers): its pool raised
(its subscription's webhook, the operator in the admin) or the teacher joining a school — as
many as it takes, in upload order; the teacher is emailed what started (and whose allowance it
runs on). A copy's own hold settling mid-job frees room too, but the job's end follows: the
exam's waiting copies cannot start while one of its jobs runs."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse

from accounts.models import School, User
from accounts.services import user_email_send
from core.errors import ApplicationError
from usage.selectors import usage_summary

from ..models import Copy, Exam, GradingJob
from ..tasks import deferred_resume_task
from .jobs import job_start

logger = logging.getLogger(__name__)


def exam_deferred_resume(*, exam: Exam) -> GradingJob | None:
    """Starts the exam's copies queued for later that the allowance takes now (a new job);
    None when none fits, a job is running, or the exam cannot be graded any more."""
    ids = list(exam.copies.filter(status=Copy.Status.DEFERRED).order_by("id").values_list("pk", flat=True))
    if not ids or exam.jobs.filter(status=GradingJob.Status.RUNNING).exists():
        return None
    try:
        job = job_start(exam=exam, user=exam.owner, copy_ids=ids, partial=True)
    except ApplicationError as error:  # QuotaExceeded (still no room), a model misconfigured…
        logger.info("deferred copies of exam %s not started: %s", exam.pk, error.message)
        return None
    transaction.on_commit(lambda: _resumed_notify(exam=exam, started=job.total_copies))
    return job


def _resumed_notify(*, exam: Exam, started: int) -> None:
    user = exam.owner
    if not user.email:
        return
    context = {
        "exam": exam,
        "school": usage_summary(user=user).school,
        "started": started,
        "waiting": exam.copies.filter(status=Copy.Status.DEFERRED).count(),
        "url": settings.SITE_URL.rstrip("/") + reverse("exam_detail", args=[exam.pk]),
    }
    try:
        user_email_send(user=user, template_name="grading/email/deferred_resumed.txt", context=context)
    except Exception:
        logger.exception("deferred-resumed email failed", extra={"exam": exam.pk})


def deferred_resume(*, user: User) -> int:
    """Resumes each of the user's exams with copies queued for later, oldest exam first.
    Returns how many copies started."""
    exams = Exam.objects.filter(owner=user, copies__status=Copy.Status.DEFERRED).distinct().order_by("id")
    started = 0
    for exam in exams:
        job = exam_deferred_resume(exam=exam)
        started += job.total_copies if job else 0
    return started


def deferred_resume_all() -> int:
    """The beat's pass (a new period brings allowance back without any event). Returns how
    many copies started."""
    users = User.objects.filter(exams__copies__status=Copy.Status.DEFERRED).distinct().order_by("id")
    return sum(deferred_resume(user=user) for user in users)


def school_deferred_resume_soon(*, school: School) -> None:
    """After the transaction that changed the school's pool commits, resumes the waiting copies
    of its current teachers (one task each, like a teacher's own plan change)."""
    _teachers_resume_soon(_school_teachers(school.pk))


def released_resume_soon(*, key: str, user_id: int, school_id: int | None) -> None:
    """A reservation was settled (usage.services.allowance_released). A job's gives back what it
    held and did not spend: the copies waiting on its pool — any teacher's of its school, else
    its teacher's — resume after the commit. A single call's (a name read, an appréciation) only
    spent what it held: nothing to resume."""
    if not GradingJob.objects.filter(reservation_key=key).exists():
        return
    teachers = _school_teachers(school_id) if school_id is not None else User.objects.filter(pk=user_id)
    _teachers_resume_soon(teachers)


def _school_teachers(school_id: int) -> QuerySet[User]:
    return User.objects.filter(school_memberships__school_id=school_id, school_memberships__left_at__isnull=True)


def _teachers_resume_soon(teachers: QuerySet[User]) -> None:
    """One resume task for each of `teachers` with copies waiting."""
    for user in teachers.filter(exams__copies__status=Copy.Status.DEFERRED).distinct().order_by("pk"):
        deferred_resume_soon(user=user)


def deferred_resume_soon(*, user: User) -> None:
    """After the transaction that changed the user's allowance commits, a task resumes their
    copies queued for later (the webhook's transaction stays short)."""
    transaction.on_commit(lambda: deferred_resume_task.delay(user.pk))
