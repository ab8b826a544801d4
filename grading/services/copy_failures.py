"""A copy failed, whatever failed it (the engine, the task's retries running out, the
reconciliation): one way, so that what a failure releases is always released."""

from __future__ import annotations

from django.db.models import Q

from core.i18n import text_dump

from ..models import Copy
from .events import progress_push
from .holds import copy_unit_settle
from .jobs import job_maybe_finish


def copy_fail(*, copy: Copy, reason: str, where: Q | None = None) -> bool:
    """Fails a copy not settled yet with a reason for the teacher (it can be re-run).

    Every way a copy fails goes through here: its hold is settled to what it spent (the rest
    goes back to the allowance at once, not at the reservation's expiry) and its lease is
    cleared. `where`: only if the row still matches it (the state the caller read)."""
    failed = copy.transition(
        source=(Copy.Status.GRADING, Copy.Status.VERIFYING, Copy.Status.QUEUED),
        target=Copy.Status.FAILED,
        where=where,
        failure_reason=text_dump(reason, limit=2000),
        lease_owner="",
        lease_until=None,
    )
    if failed:
        copy_unit_settle(copy, "failed")
        progress_push(copy.exam, copies=[copy.pk])
        if copy.job_id:
            job_maybe_finish(job_id=copy.job_id)
    return failed
