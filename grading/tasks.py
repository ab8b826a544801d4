"""Celery tasks of the grading engine: thin wrappers that own the retry policy.

Retry budget: at most RETRY_MAX retries with exponential backoff (RETRY_BASE_S · 2^n,
capped at RETRY_CAP_S) and full jitter, so the worst case is copy_task_budget_s() (≈ 28 min
with the defaults: failed and successful call rounds plus the backoffs), well under the
broker's one-hour visibility timeout: a task is never redelivered to a second worker while
the first one is still retrying it.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from accounts.services import user_language_override

from . import jobs
from .engine.errors import EngineError, TransientLLMError
from .models import Copy

logger = logging.getLogger(__name__)

RETRY_MAX = 6
# Call rounds one copy may make (grading, its repair, verification, its repair).
ROUNDS_MAX = 4


def copy_task_budget_s() -> float:
    """Worst-case seconds one copy task spends retrying before it fails the copy itself.

    Every round that succeeds is stored and not redone, so over all attempts at most
    ROUNDS_MAX rounds succeed and RETRY_MAX + 1 fail, each within CORRIGO_LLM_TIMEOUT,
    plus RETRY_MAX backoffs of at most CORRIGO_RETRY_CAP_S (≈ 28 min with the defaults).
    """
    timeout = float(settings.CORRIGO_LLM_TIMEOUT)
    cap = float(getattr(settings, "CORRIGO_RETRY_CAP_S", 60.0))
    return (RETRY_MAX + 1 + ROUNDS_MAX) * timeout + RETRY_MAX * cap


def retry_countdown(retries: int) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base · 2^retries)]."""
    base = float(getattr(settings, "CORRIGO_RETRY_BASE_S", 2.0))
    cap = float(getattr(settings, "CORRIGO_RETRY_CAP_S", 60.0))
    ceiling = min(cap, base * (2**retries))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_MAX, ignore_result=True)
def copy_grade_task(self, copy_id: int, job_id: int, attempt: int | None = None) -> str:
    teacher = get_user_model().objects.get(exams__copies=copy_id)
    # Failure reasons are stored as text: write them in the language the teacher reads.
    with user_language_override(teacher):
        return _copy_grade_run(self, copy_id, job_id, attempt)


def _copy_grade_run(self, copy_id: int, job_id: int, attempt: int | None) -> str:
    try:
        return jobs.copy_grade(copy_id=copy_id, job_id=job_id, attempt=attempt)
    except TransientLLMError as exc:
        if self.request.retries >= RETRY_MAX:
            copy = Copy.objects.get(pk=copy_id)
            jobs.copy_fail(
                copy=copy,
                reason=_("Fournisseur du modèle indisponible après %(count)s tentatives : %(error)s")
                % {"count": RETRY_MAX + 1, "error": exc},
            )
            return Copy.Status.FAILED
        countdown = retry_countdown(self.request.retries)
        logger.warning("copy %s: transient LLM error, retry in %.1fs: %s", copy_id, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:
        # Anything else (a locked or restarting database, a bug) used to leave the copy
        # "en cours" and its job unfinished forever: retry database hiccups, then fail the copy
        # with a reason the teacher can act on (re-run it), so the job settles.
        if isinstance(exc, OperationalError | InterfaceError) and self.request.retries < RETRY_MAX:
            countdown = retry_countdown(self.request.retries)
            logger.warning("copy %s: database error, retry in %.1fs: %s", copy_id, countdown, exc)
            raise self.retry(exc=exc, countdown=countdown) from exc
        logger.exception("copy %s: unexpected error while grading", copy_id)
        jobs.copy_fail(
            copy=Copy.objects.get(pk=copy_id),
            reason=_("Erreur interne pendant la correction de cette copie ; vous pouvez la relancer."),
        )
        return Copy.Status.FAILED


@shared_task(bind=True, acks_late=True, max_retries=3, ignore_result=True)
def copy_pages_render_task(self, copy_id: int) -> int:
    copy = Copy.objects.select_related("source").get(pk=copy_id)
    try:
        return jobs.copy_pages_render(copy=copy)
    except EngineError as exc:
        copy.transition(source=[copy.status], target=Copy.Status.FAILED, failure_reason=str(exc)[:2000])
        return 0


@shared_task(name="grading.exam_files_purge_expired", ignore_result=True)
def exam_files_purge_expired_task() -> int:
    """Daily (CELERY_BEAT_SCHEDULE): students' files of exams idle past the retention period."""
    from .retention import exam_files_purge_expired

    return exam_files_purge_expired()


@shared_task(name="grading.copies_stuck_fail", ignore_result=True)
def copies_stuck_fail_task() -> int:
    """Every 10 minutes (CELERY_BEAT_SCHEDULE): copies whose worker died mid-grading."""
    return jobs.copies_stuck_fail()
