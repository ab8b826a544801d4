"""Reconciliation: the database says which copies are being graded; make the broker agree.

Run by the beat every CORRIGO_RECONCILE_EVERY_S (a minute). Two ways a copy loses its task:
- its worker died (SIGKILL, OOM, a lost machine) while grading it: the copy's lease
  (services.leases) is not renewed and lapses after CORRIGO_COPY_LEASE_S;
- its message vanished from the broker (Redis flushed, restarted without persistence, a
  failover): the copy stays queued and no message in the queue, in a live worker's own queue
  (a copy passed on, services.passing_on) or among the unacknowledged ones (services.broker)
  names it.
Either way the copy is enqueued again under the same attempt: the calls already answered are
replayed from their stored rows (never paid twice), the lease and the conditional status
updates make one execution grade it, once. After CORRIGO_COPY_REQUEUES_MAX such rescues within
one attempt (a copy that kills its worker every time), it is failed with a reason the teacher
can act on. Jobs left running with no active copy (a worker lost between a copy's last
transition and the job's end) are finalized.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from core.i18n import translatable

from ..models import Copy, GradingJob
from ..tasks import copy_grade_task
from .broker import broker_copy_ids
from .copy_failures import copy_fail
from .jobs import ACTIVE, job_finalize
from .leases import IN_FLIGHT, lease_length
from .passing_on import process_room

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reconciled:
    requeued: int = 0
    failed: int = 0
    jobs_finalized: int = 0


def _fail(copy: Copy, rows: Q) -> bool:
    """Fails the copy as any failed copy is (copy_fail: its hold settled, its lease cleared),
    only if it is still in the state read (`rows`)."""
    if copy.requeues:
        reason = translatable(
            gettext_noop(
                "La correction de cette copie a été interrompue %(count)s fois (le traitement ne répond plus) ; "
                "vous pouvez la relancer."
            ),
            count=copy.requeues + 1,
        )
    else:
        reason = translatable(
            gettext_noop(
                "La correction de cette copie a été interrompue (le traitement ne répond plus) ; "
                "vous pouvez la relancer."
            )
        )
    failed = copy_fail(copy=copy, reason=reason, where=rows)
    if failed:
        logger.warning("copy %s lost its task: failed", copy.pk, extra={"copy": copy.pk})
    return failed


def _requeue(copy: Copy, rows: Q) -> bool:
    """Back to queued (if still as read) and enqueued again under the same attempt."""
    with transaction.atomic():
        moved = Copy.objects.filter(rows, pk=copy.pk).update(
            status=Copy.Status.QUEUED,
            requeues=F("requeues") + 1,
            lease_owner="",
            lease_until=None,
            updated_at=timezone.now(),
        )
        if moved:
            job_id, attempt = copy.job_id, copy.attempt
            transaction.on_commit(lambda: copy_grade_task.delay(copy.pk, job_id, attempt))
    if moved:
        logger.warning("copy %s had no live task: enqueued again", copy.pk, extra={"copy": copy.pk})
    return bool(moved)


def _rescue(copy: Copy, rows: Q) -> tuple[int, int]:
    """(requeued, failed) for one copy whose task is gone; `rows` says "still as read".

    A copy of a job no longer running (cancelled) is not graded again: it fails, re-runnable."""
    running = copy.job is not None and copy.job.status == GradingJob.Status.RUNNING
    if not running or copy.requeues >= settings.CORRIGO_COPY_REQUEUES_MAX:
        return 0, int(_fail(copy, rows))
    return int(_requeue(copy, rows)), 0


def copies_reconcile() -> Reconciled:
    now = timezone.now()
    requeued = failed = 0
    # Copies whose lease lapsed: nobody renews it, so no live worker holds them. (A lease
    # never set dates from the copy's last change.)
    lapsed = Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=now - lease_length())
    orphans = Copy.objects.filter(lapsed, status__in=IN_FLIGHT)
    for copy in orphans.select_related("exam__owner", "job"):
        done = _rescue(copy, lapsed & Q(status__in=IN_FLIGHT))
        requeued, failed = requeued + done[0], failed + done[1]
    # Queued copies of running jobs, unchanged for a lease length (so their message had time
    # to be published and picked up), that no message in the broker names.
    quiet = now - lease_length()
    waiting = list(
        Copy.objects.filter(
            status=Copy.Status.QUEUED, job__status=GradingJob.Status.RUNNING, updated_at__lt=quiet
        ).select_related("exam__owner", "job")
    )
    if waiting:
        present = broker_copy_ids(delivered_within=lease_length().total_seconds(), nodes=process_room.live())
        for copy in waiting:
            if copy.pk in present:
                continue
            done = _rescue(copy, Q(status=Copy.Status.QUEUED, updated_at=copy.updated_at))
            requeued, failed = requeued + done[0], failed + done[1]
    finalized = 0
    idle = GradingJob.objects.filter(status=GradingJob.Status.RUNNING, started_at__lt=quiet).exclude(
        copies__status__in=ACTIVE
    )
    for job in idle.select_related("exam", "exam__owner", "created_by"):
        if job_finalize(job=job):
            finalized += 1
            logger.warning("job %s left running with no active copy: finalized", job.pk, extra={"job": job.pk})
    return Reconciled(requeued=requeued, failed=failed, jobs_finalized=finalized)
