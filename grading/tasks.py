"""Celery tasks of the grading app: load by id, call a service, own the retry policy.

Services import these tasks at module level (to enqueue them); each task imports the
services inside its body, so the two modules never import each other at load time.

Retry budget: at most RETRY_MAX retries with exponential backoff (CORRIGO_RETRY_BASE_S · 2^n,
capped at CORRIGO_RETRY_CAP_S) and full jitter. A copy
task holds the copy's lease (services.leases) while it runs and over each retry countdown;
the beat's reconciliation (services.reconcile) re-enqueues copies whose lease lapsed or whose
message left the broker. The Celery settings that go with it are explained in
config/settings/base.py.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_noop
from redis.exceptions import RedisError

from accounts.models import User
from accounts.services import user_language_override
from core.i18n import text_dump, translatable

from .engine.errors import EngineError, TransientLLMError
from .models import Copy, Exam, SourceFile

logger = logging.getLogger(__name__)

RETRY_MAX = 6


def retry_countdown(retries: int) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base · 2^retries)]."""
    ceiling = min(settings.CORRIGO_RETRY_CAP_S, settings.CORRIGO_RETRY_BASE_S * (2**retries))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_MAX, ignore_result=True)
def copy_grade_task(self, copy_id: int, job_id: int, attempt: int, passed_on: bool = False) -> str:
    from .services.passing_on import copy_pass_on, process_room
    from .services.prepare_gate import preparing

    with process_room.counted() as running:
        # Beyond what this process calls at once while another has room: to that one, once.
        if (
            not passed_on
            and not self.request.retries
            and (node := process_room.pass_on_target(running=running)) is not None
            and copy_pass_on(self, node=node, copy_id=copy_id, job_id=job_id, attempt=attempt)
        ):
            return "passed on"
        with preparing():  # up to the copy's first call (services.prepare_gate)
            return _copy_grade_task(self, copy_id, job_id, attempt)


def _copy_grade_task(task, copy_id: int, job_id: int, attempt: int) -> str:
    from .services.copy_grading import copy_for_grading

    try:
        # One read for the teacher (the language below) and everything the grading reads first.
        copy = copy_for_grading(copy_id)
    except (OperationalError, InterfaceError) as exc:
        # Under the same policy as the grading itself: a database hiccup here used to kill the
        # task with no retry, the copy left "en cours".
        if task.request.retries >= RETRY_MAX:
            raise
        countdown = retry_countdown(task.request.retries)
        logger.warning("copy %s: database error, retry in %.1fs: %s", copy_id, countdown, exc)
        raise task.retry(exc=exc, countdown=countdown) from exc
    if copy is None:
        return "deleted"  # the copy went with its exam
    # Failure reasons are stored as their French source (core.i18n), read in the reader's language;
    # what is still made here as text (an email, a log line for the teacher) is in the teacher's.
    with user_language_override(copy.exam.owner):
        return _copy_grade_run(task, copy, job_id, attempt)


def _copy_grade_run(task, copy: Copy, job_id: int, attempt: int) -> str:
    from .services.copy_failures import copy_fail
    from .services.copy_grading import copy_grade
    from .services.leases import copy_lease_extend

    def retry(exc: Exception, countdown: float) -> Exception:
        # The lease covers the countdown: the reconciliation leaves a copy waiting to retry alone.
        # (With the database down it lapses instead, and the copy is enqueued once more: safe.)
        try:
            copy_lease_extend(copy_id=copy_id, owner=task.request.id, seconds=countdown)
        except (OperationalError, InterfaceError):
            logger.warning("copy %s: lease not extended for the retry", copy_id)
        return task.retry(exc=exc, countdown=countdown)

    copy_id = copy.pk
    try:
        return copy_grade(copy_id=copy_id, job_id=job_id, attempt=attempt, lease_owner=task.request.id, copy=copy)
    except TransientLLMError as exc:
        if task.request.retries >= RETRY_MAX:
            copy_fail(
                copy=Copy.objects.get(pk=copy_id),
                reason=translatable(
                    gettext_noop("Fournisseur du modèle indisponible après %(count)s tentatives : %(error)s"),
                    count=RETRY_MAX + 1,
                    error=exc.message,
                ),
            )
            return Copy.Status.FAILED
        countdown = retry_countdown(task.request.retries)
        logger.warning("copy %s: transient LLM error, retry in %.1fs: %s", copy_id, countdown, exc)
        raise retry(exc, countdown) from exc
    except Exception as exc:
        # Anything else (a locked or restarting database, a bug) used to leave the copy
        # "en cours" and its job unfinished forever: retry database hiccups, then fail the copy
        # with a reason the teacher can act on (re-run it), so the job settles. The exception
        # itself goes to the log (and Sentry), never into the teacher's message.
        # Redis out of reach (restarting) too: the kept answers (services.answers) live there,
        # so a round cannot start without reading them; it starts again once Redis is back.
        if isinstance(exc, OperationalError | InterfaceError | RedisError) and task.request.retries < RETRY_MAX:
            countdown = retry_countdown(task.request.retries)
            logger.warning("copy %s: database or Redis error, retry in %.1fs: %s", copy_id, countdown, exc)
            raise retry(exc, countdown) from exc
        logger.exception("copy %s: unexpected error while grading", copy_id)
        current = Copy.objects.filter(pk=copy_id).first()
        if current is None:
            return "deleted"
        reason = gettext_noop("Erreur interne pendant la correction de cette copie ; vous pouvez la relancer.")
        copy_fail(copy=current, reason=translatable(reason))
        return Copy.Status.FAILED


@shared_task(bind=True, acks_late=True, max_retries=3, ignore_result=True)
def copy_pages_render_task(self, copy_id: int) -> int:
    from .services.uploads import copy_pages_render

    copy = Copy.objects.select_related("source").get(pk=copy_id)
    try:
        count = copy_pages_render(copy=copy)
    except EngineError as exc:
        copy.transition(
            source=[copy.status], target=Copy.Status.FAILED, failure_reason=text_dump(exc.message, limit=2000)
        )
        return 0
    if not copy.read_name and copy.student_id is None:
        copy_name_read_task.delay(copy_id)
    return count


@shared_task(bind=True, acks_late=True, max_retries=2, ignore_result=True)
def copy_name_read_task(self, copy_id: int) -> str:
    """The student's name read on the copy's first page, then matched to the class list. A
    provider hiccup is retried twice; any other failure leaves the copy's label as it was."""
    from .services.names import copy_name_read

    copy = Copy.objects.select_related("exam", "exam__owner").get(pk=copy_id)
    try:
        return copy_name_read(copy=copy)
    except TransientLLMError as exc:
        if self.request.retries >= 2:
            return "failed"
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc
    except EngineError as exc:
        logger.warning("copy %s: name not read: %s", copy_id, exc)
        return "failed"


@shared_task(acks_late=True, ignore_result=True)
def source_thumbnails_render_task(source_id: int) -> int:
    """The split screen's page thumbnails of a class PDF (missing ones show a placeholder)."""
    from .services.uploads import source_thumbnails_render

    source = SourceFile.objects.filter(pk=source_id).first()
    if source is None or not source.file:
        return 0
    try:
        return source_thumbnails_render(source=source)
    except EngineError as exc:
        logger.warning("source %s: no thumbnails: %s", source_id, exc)
        return 0


@shared_task(acks_late=True, ignore_result=True)
def subject_pages_render_task(exam_id: int, name: str) -> int:
    """The subject's pages shown beside a proposed barème (a subject replaced since is not)."""
    from .services.subject_pages import subject_pages_render

    exam = Exam.objects.filter(pk=exam_id, subject_file=name).first()
    if exam is None:
        return 0
    try:
        return subject_pages_render(exam=exam)
    except (EngineError, FileNotFoundError) as exc:
        logger.warning("exam %s: subject pages not rendered: %s", exam_id, exc)
        return 0


@shared_task(name="grading.proposal_run", acks_late=True, ignore_result=True)
def proposal_run_task(proposal_id: int) -> str:
    """A barème or a class split read from its PDF (pages rendered in the sandbox, then the
    detection model), never in a web request. Never retried: a failure is told on the page and
    the teacher starts again; a second delivery finds the proposal claimed and does nothing."""
    from .services.proposals import proposal_run

    teacher = User.objects.filter(exams__proposals=proposal_id).first()
    if teacher is None:
        return "deleted"
    # The failure reason is stored as its source (core.i18n); the rest in the teacher's language.
    with user_language_override(teacher):
        return proposal_run(proposal_id=proposal_id)


@shared_task(name="grading.exam_files_purge_expired", ignore_result=True)
def exam_files_purge_expired_task() -> int:
    """Daily (CELERY_BEAT_SCHEDULE): students' files of exams idle past the retention period."""
    from .services.retention import exam_files_purge_expired

    return exam_files_purge_expired()


@shared_task(name="grading.copies_reconcile", ignore_result=True)
def copies_reconcile_task() -> int:
    """Every CORRIGO_RECONCILE_EVERY_S (CELERY_BEAT_SCHEDULE): copies whose task is gone."""
    from .services.reconcile import copies_reconcile

    done = copies_reconcile()
    return done.requeued + done.failed


@shared_task(ignore_result=True)
def exam_links_send_task(exam_id: int, user_id: int, days: int) -> str:
    """The students' emails with their links. Never retried: a second run would send twice."""
    from .services.links import exam_links_send

    exam = Exam.objects.filter(pk=exam_id).first()
    user = User.objects.filter(pk=user_id).first()
    if exam is None or user is None:
        return "deleted"
    result = exam_links_send(exam=exam, user=user, days=days)
    return f"sent {result.sent}, failed {result.failed}"


@shared_task(acks_late=True, ignore_result=True)
def export_build_task(export_id: int) -> str:
    """An export file, built in the teacher's language. A second delivery finds it taken."""
    from .models import ExportFile
    from .services.exports import export_build

    export = ExportFile.objects.select_related("exam", "exam__owner").filter(pk=export_id).first()
    if export is None:
        return "deleted"
    with user_language_override(export.exam.owner):
        return export_build(export=export).status


@shared_task(name="grading.exports_expire", ignore_result=True)
def exports_expire_task() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): export files past CORRIGO_EXPORT_HOURS."""
    from .services.exports import exports_expire

    return exports_expire()


@shared_task(ignore_result=True)
def deferred_resume_task(user_id: int) -> int:
    """The user's allowance changed: their copies queued for later start if it takes them."""
    from .services.deferred import deferred_resume

    user = User.objects.filter(pk=user_id).first()
    return deferred_resume(user=user) if user is not None else 0


@shared_task(name="grading.deferred_resume_all", ignore_result=True)
def deferred_resume_all_task() -> int:
    """Every 15 minutes (CELERY_BEAT_SCHEDULE): copies queued for later that a new period takes."""
    from .services.deferred import deferred_resume_all

    return deferred_resume_all()


@shared_task(acks_late=False, ignore_result=True)
def exam_appreciations_task(run_id: int) -> str:
    """« Rédiger les appréciations manquantes », in the teacher's language (its message is stored
    as text). Acknowledged on receipt, never redelivered: two deliveries would draft copies twice
    (each call metered, only one written); a lost worker leaves its pass silent, and the teacher's
    next click starts a new one (AppreciationRun.lost)."""
    from .services.appreciation_run import exam_appreciations_run

    teacher = User.objects.filter(exams__appreciation_runs=run_id).first()
    if teacher is None:
        return "deleted"
    with user_language_override(teacher):
        return exam_appreciations_run(run_id=run_id)
