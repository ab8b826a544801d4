"""A copy's tokens as a unit of its job's reservation (usage.services.usage_hold): what a copy
that finds no room does (waits while other copies are in flight, else stops as quota reached),
and its settlement when it ends."""

from __future__ import annotations

from django.utils.translation import gettext_noop

from accounts.models import User
from core.i18n import Text, text_dump, translatable
from usage.selectors import usage_summary
from usage.services import Hold, usage_unit_settle

from ..models import Copy, GradingJob
from ..tasks import copy_grade_task
from .events import progress_push
from .jobs import copy_unit_of, job_maybe_finish
from .leases import IN_FLIGHT

# Seconds a copy that found no room waits before asking again (copies in flight settle).
QUOTA_WAIT_S = 5
QUOTA = gettext_noop("Allocation de jetons épuisée : relancez la copie après avoir changé d'offre.")
# A school's teacher has no plan to change: the school pays (accounts.models.School).
SCHOOL_QUOTA = gettext_noop(
    "Allocation de %(school)s épuisée : contactez l'administrateur de votre établissement (%(contact)s), "
    "puis relancez la copie."
)


def quota_message(user: User) -> Text:
    """Why a copy stopped (stored as its source: read in the language of whoever reads it)."""
    summary = usage_summary(user=user)
    if summary.school:
        return translatable(SCHOOL_QUOTA, school=summary.school, contact=summary.school_contact or "—")
    return translatable(QUOTA)


class NoRoom(Exception):
    """The allowance cannot hold the next round of calls now (WAIT) or at all (EXHAUSTED)."""

    def __init__(self, hold: Hold):
        super().__init__(hold)
        self.hold = hold


def copy_unit(copy: Copy) -> str:
    """The copy's attempt as a unit of its job's reservation (usage.services.usage_hold)."""
    return copy_unit_of(copy_id=copy.pk, attempt=copy.attempt)


def copy_unit_settle(copy: Copy, outcome: str) -> None:
    """Settles the copy's hold to what it spent (the copy ended)."""
    if copy.job is not None:
        usage_unit_settle(pool_key=copy.job.reservation_key, unit=copy_unit(copy), outcome=outcome)


def copy_no_room(copy: Copy, job: GradingJob, hold: Hold) -> str:
    """WAIT: the copy goes back to the queue (its stored calls are replayed when it resumes)
    and tries again in QUOTA_WAIT_S, once copies in flight settled. EXHAUSTED: it and every
    queued copy of the job stop as "quota reached", resumable."""
    if hold is Hold.WAIT:
        was_queued = copy.status == Copy.Status.QUEUED
        if not copy.transition(
            source=(Copy.Status.QUEUED, *IN_FLIGHT), target=Copy.Status.QUEUED, lease_owner="", lease_until=None
        ):
            # Stopped meanwhile (its job's quota reached, the job cancelled): nothing to wait for.
            # The unit this hold created may postdate the job's last settlement: settle it here.
            copy_unit_settle(copy, "failed")
            return Copy.objects.filter(pk=copy.pk).values_list("status", flat=True).first() or Copy.Status.CANCELLED
        if not was_queued:  # a copy waiting again changes nothing the teacher sees
            progress_push(copy.exam, copies=[copy.pk])
        copy_grade_task.apply_async((copy.pk, job.pk, copy.attempt), countdown=QUOTA_WAIT_S)
        return "waiting"
    copy.transition(
        source=(Copy.Status.QUEUED, *IN_FLIGHT),
        target=Copy.Status.QUOTA_REACHED,
        failure_reason=text_dump(quota_message(job.exam.owner), limit=2000),
    )
    copy_unit_settle(copy, "failed")
    job_quota_reached(job)
    return Copy.Status.QUOTA_REACHED


def job_quota_reached(job: GradingJob) -> None:
    """The allowance cannot cover another copy: every copy still queued waits, resumable."""
    queued = job.copies.filter(status=Copy.Status.QUEUED)
    stopped = list(queued.values_list("pk", flat=True))
    reason = text_dump(quota_message(job.exam.owner), limit=2000)
    queued.filter(pk__in=stopped).update(status=Copy.Status.QUOTA_REACHED, failure_reason=reason)
    progress_push(job.exam, copies=stopped)
    job_maybe_finish(job_id=job.pk)
