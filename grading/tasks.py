"""Celery tasks of the grading app: load by id, call a service, own the retry policy.

Services import these tasks at module level (to enqueue them); each task imports the
services inside its body, so the two modules never import each other at load time.

Retry budget: at most RETRY_MAX retries with exponential backoff (CORRIGO_RETRY_BASE_S · 2^n,
capped at CORRIGO_RETRY_CAP_S) and full jitter, so the worst case is copy_task_budget_s()
(≈ 28 min with the defaults: failed and successful call rounds plus the backoffs), well under
the broker's one-hour visibility timeout: a task is never redelivered to a second worker
while the first one is still retrying it.
"""

from __future__ import annotations

import logging
import random

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import user_language_override

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
    return (RETRY_MAX + 1 + ROUNDS_MAX) * settings.CORRIGO_LLM_TIMEOUT + RETRY_MAX * settings.CORRIGO_RETRY_CAP_S


def retry_countdown(retries: int) -> float:
    """Full-jitter exponential backoff: uniform in [base/2, min(cap, base · 2^retries)]."""
    ceiling = min(settings.CORRIGO_RETRY_CAP_S, settings.CORRIGO_RETRY_BASE_S * (2**retries))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not security)


@shared_task(bind=True, acks_late=True, max_retries=RETRY_MAX, ignore_result=True)
def copy_grade_task(self, copy_id: int, job_id: int, attempt: int) -> str:
    teacher = User.objects.get(exams__copies=copy_id)
    # Failure reasons are stored as text: write them in the language the teacher reads.
    with user_language_override(teacher):
        return _copy_grade_run(self, copy_id, job_id, attempt)


def _copy_grade_run(task, copy_id: int, job_id: int, attempt: int) -> str:
    from .services.copy_grading import copy_fail, copy_grade

    try:
        return copy_grade(copy_id=copy_id, job_id=job_id, attempt=attempt)
    except TransientLLMError as exc:
        if task.request.retries >= RETRY_MAX:
            copy_fail(
                copy=Copy.objects.get(pk=copy_id),
                reason=_("Fournisseur du modèle indisponible après %(count)s tentatives : %(error)s")
                % {"count": RETRY_MAX + 1, "error": exc.message},
            )
            return Copy.Status.FAILED
        countdown = retry_countdown(task.request.retries)
        logger.warning("copy %s: transient LLM error, retry in %.1fs: %s", copy_id, countdown, exc)
        raise task.retry(exc=exc, countdown=countdown) from exc
    except Exception as exc:
        # Anything else (a locked or restarting database, a bug) used to leave the copy
        # "en cours" and its job unfinished forever: retry database hiccups, then fail the copy
        # with a reason the teacher can act on (re-run it), so the job settles. The exception
        # itself goes to the log (and Sentry), never into the teacher's message.
        if isinstance(exc, OperationalError | InterfaceError) and task.request.retries < RETRY_MAX:
            countdown = retry_countdown(task.request.retries)
            logger.warning("copy %s: database error, retry in %.1fs: %s", copy_id, countdown, exc)
            raise task.retry(exc=exc, countdown=countdown) from exc
        logger.exception("copy %s: unexpected error while grading", copy_id)
        copy_fail(
            copy=Copy.objects.get(pk=copy_id),
            reason=_("Erreur interne pendant la correction de cette copie ; vous pouvez la relancer."),
        )
        return Copy.Status.FAILED


@shared_task(bind=True, acks_late=True, max_retries=3, ignore_result=True)
def copy_pages_render_task(self, copy_id: int) -> int:
    from .services.uploads import copy_pages_render

    copy = Copy.objects.select_related("source").get(pk=copy_id)
    try:
        return copy_pages_render(copy=copy)
    except EngineError as exc:
        copy.transition(source=[copy.status], target=Copy.Status.FAILED, failure_reason=exc.message[:2000])
        return 0


@shared_task(name="grading.exam_files_purge_expired", ignore_result=True)
def exam_files_purge_expired_task() -> int:
    """Daily (CELERY_BEAT_SCHEDULE): students' files of exams idle past the retention period."""
    from .services.retention import exam_files_purge_expired

    return exam_files_purge_expired()


@shared_task(name="grading.copies_stuck_fail", ignore_result=True)
def copies_stuck_fail_task() -> int:
    """Every 10 minutes (CELERY_BEAT_SCHEDULE): copies whose worker died mid-grading."""
    from .services.jobs import copies_stuck_fail

    return copies_stuck_fail()
