"""Whose allowance a teacher spends: their own, or their school's pool (accounts.School).

A teacher with an open SchoolMembership spends the school's pool: `School.allowance_tokens`
each period (its subscription's billing period, else the calendar month), shared by its
teachers. Each ledger row and each reservation carries the pool it counts against
(`school`, empty for the teacher's own allowance), and still belongs to its teacher:

- a job's reservation is taken on the pool the teacher spends when it starts, and the job
  spends that pool to its end — its copies' holds are checked against it and its calls are
  recorded on it — even if the teacher joins or leaves a school meanwhile. So neither pool is
  ever exceeded by a membership changing mid-job: the school's pool never pays for a job it
  never agreed to, and a teacher's own allowance never for a job the school reserved;
- a call outside a job counts against the teacher's pool at that moment.

A teacher who leaves falls back to their own tier with what they had before they joined.

usage.services takes every reservation and hold under a locked pool (`allowance_pool` or
`reservation_pool` with lock=True): the teacher's Allowance row, then the school's row, are
locked (in that order, always), so the concurrent jobs of a school's teachers are serialised
on the school and cannot together exceed its pool. schools.services locks the school row
before opening or closing a membership, so a teacher cannot join or leave between the pool's
check and its reservation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts.models import School, SchoolMembership, User

from .models import Allowance, Reservation, UsageRecord
from .periods import billing_period, month_start, usage_period
from .tiers import TIER_LIMITS, TIER_RESETS


@dataclass(frozen=True)
class Pool:
    """An allowance in force for one user: `limit` tokens over [start, end) (None: all time)."""

    user: User
    tier: str  # the teacher's own tier, shown when no school pays
    limit: int
    start: datetime | None
    end: datetime | None
    school: School | None = None

    @property
    def resets(self) -> bool:
        return self.school is not None or TIER_RESETS[self.tier]

    def _period(self) -> Q:
        return Q(created_at__gte=self.start, created_at__lt=self.end) if self.start is not None else Q()

    def records(self) -> Q:
        """The ledger rows that count against this pool in its period."""
        if self.school is not None:
            return Q(school=self.school) & self._period()
        return Q(user=self.user, school__isnull=True) & self._period()

    def holders(self) -> Q:
        """The reservations held on this pool (by any of its teachers, for a school's)."""
        if self.school is not None:
            return Q(school=self.school)
        return Q(user=self.user, school__isnull=True)

    def used(self) -> tuple[int, Decimal]:
        """(tokens, cost) of the pool's ledger rows in its period."""
        rows = UsageRecord.objects.filter(self.records())
        totals = rows.aggregate(tokens=Sum("total_tokens"), cost=Sum("total_cost"))
        return totals["tokens"] or 0, totals["cost"] or Decimal(0)

    def held(self) -> int:
        """Tokens held by running jobs on this pool, beyond what they already spent."""
        held = Reservation.objects.filter(self.holders(), state=Reservation.State.HELD)
        held = held.annotate(spent=Sum("records__total_tokens"))
        return sum(max(r.tokens - (r.spent or 0), 0) for r in held)

    def remaining(self) -> int:
        """What a new reservation may take (negative when over-committed)."""
        # Held before used: a call recorded between the two reads (ledger rows are written
        # without the pool's lock) then counts twice, never zero times (READ COMMITTED).
        held = self.held()
        used, _cost = self.used()
        return self.limit - used - held


def school_period(*, school: School, now: datetime | None = None) -> tuple[datetime, datetime]:
    """A school's pool renews with its subscription's billing period, else each calendar month
    (settings.TIME_ZONE)."""
    return billing_period(school.period_start, school.period_end, now=now)


def _allowance(user: User, *, lock: bool) -> Allowance:
    if lock:
        return Allowance.objects.select_for_update().get(user=user)
    return Allowance.objects.filter(user=user).first() or Allowance(user=user)


def _school_pool(user: User, allowance: Allowance, school: School) -> Pool:
    start, end = school_period(school=school)
    return Pool(user=user, tier=allowance.tier, limit=school.allowance_tokens, start=start, end=end, school=school)


def _own_pool(user: User, allowance: Allowance) -> Pool:
    start, end = usage_period(allowance)
    return Pool(user=user, tier=allowance.tier, limit=TIER_LIMITS[allowance.tier], start=start, end=end)


def allowance_pool(*, user: User, lock: bool = False) -> Pool:
    """The allowance `user` spends now: their school's pool while a member, else their own.

    With `lock=True` (inside a transaction) the user's Allowance row, which must exist, then the
    school's row are locked until the transaction ends; the membership is read again under the
    school's lock, as joining and leaving change it under that lock."""
    allowance = _allowance(user, lock=lock)
    membership = SchoolMembership.objects.filter(user=user, left_at__isnull=True).select_related("school").first()
    if membership is not None and lock:
        School.objects.select_for_update().filter(pk=membership.school_id).first()
        open_again = SchoolMembership.objects.filter(pk=membership.pk, left_at__isnull=True)
        membership = open_again.select_related("school").first()
    if membership is not None:
        return _school_pool(user, allowance, membership.school)
    return _own_pool(user, allowance)


def reservation_pool(*, reservation: Reservation, lock: bool = False) -> Pool:
    """The pool a job's reservation was taken on (its school's, else its teacher's own), whatever
    the teacher's membership is now; locked as allowance_pool locks (Allowance, then School)."""
    user = reservation.user
    allowance = _allowance(user, lock=lock)
    if reservation.school_id is None:
        return _own_pool(user, allowance)
    schools = School.objects.filter(pk=reservation.school_id)
    school = (schools.select_for_update() if lock else schools).get()
    return _school_pool(user, allowance, school)


def usage_school_by_teacher_month(*, school: School, months: int = 12, now: datetime | None = None) -> list[dict]:
    """The school's ledger per teacher and month, newest month first, for its admin's page:
    rows {user_id, user__email, month, calls, tokens, cost} over the last `months` calendar
    months, the rows its pool paid for. One query, at most months × teachers rows."""
    now = now or timezone.now()
    rows = UsageRecord.objects.filter(
        school=school, created_at__gte=month_start(now, 1 - months), created_at__lt=month_start(now, 1)
    )
    return list(
        rows.annotate(month=TruncMonth("created_at"))
        .values("user_id", "user__email", "month")
        .annotate(calls=Count("id"), tokens=Sum("total_tokens"), cost=Sum("total_cost"))
        .order_by("-month", "user__email")
    )


def usage_school_period(*, school: School, now: datetime | None = None) -> tuple[datetime, datetime, dict[int, int]]:
    """(start, end, {teacher's user id: tokens}) of the school's pool in its current period."""
    start, end = school_period(school=school, now=now)
    rows = UsageRecord.objects.filter(school=school, created_at__gte=start, created_at__lt=end)
    per_teacher = rows.values("user_id").annotate(tokens=Sum("total_tokens")).order_by()
    return start, end, {row["user_id"]: row["tokens"] or 0 for row in per_teacher}


def pool_school_now(*, user: User) -> School | None:
    """The school whose pool `user` spends now (a call outside a job is recorded on it)."""
    membership = SchoolMembership.objects.filter(user=user, left_at__isnull=True).select_related("school").first()
    return membership.school if membership is not None else None
