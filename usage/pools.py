"""Whose allowance a teacher spends: their own, or their school's pool (accounts.School).

A teacher with an open SchoolMembership spends the school's pool: `School.allowance_tokens`
each calendar month, shared by its teachers. The pool's usage is the sum of its teachers'
ledger rows written while they were members (each row still belongs to its teacher); what
the school's current teachers' running jobs hold counts against it too. A teacher's own
allowance counts their ledger rows outside any membership, so a teacher who leaves falls back
to their own tier with what they had before they joined.

usage.services takes every reservation and hold under `allowance_pool(lock=True)`: the
teacher's Allowance row, then their school's row, are locked (in that order, always), so the
concurrent jobs of a school's teachers are serialised on the school and cannot together exceed
its pool. schools.services locks the school row before closing a membership, so a teacher
cannot leave between the pool's check and its reservation.
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

    # The user's past memberships (joined, left): their ledger rows then were the school's.
    left_schools: tuple[tuple[datetime, datetime], ...] = ()

    def records(self) -> Q:
        """The ledger rows that count against this pool in its period."""
        if self.school is not None:
            return school_records(school=self.school, start=self.start, end=self.end)
        rows = Q(user=self.user)
        if self.start is not None:
            rows &= Q(created_at__gte=self.start, created_at__lt=self.end)
        for joined, left in self.left_schools:
            rows &= ~Q(created_at__gte=joined, created_at__lt=left)
        return rows

    def used(self) -> tuple[int, Decimal]:
        """(tokens, cost) of the pool's ledger rows in its period."""
        rows = UsageRecord.objects.filter(self.records())
        totals = rows.aggregate(tokens=Sum("total_tokens"), cost=Sum("total_cost"))
        return totals["tokens"] or 0, totals["cost"] or Decimal(0)

    def held(self) -> int:
        """Tokens held by running jobs of the pool's teachers, beyond what they already spent."""
        if self.school is not None:
            holders = Q(user__school_memberships__school=self.school, user__school_memberships__left_at__isnull=True)
        else:
            holders = Q(user=self.user)
        held = Reservation.objects.filter(holders, state=Reservation.State.HELD)
        held = held.annotate(spent=Sum("records__total_tokens"))
        return sum(max(r.tokens - (r.spent or 0), 0) for r in held)

    def remaining(self) -> int:
        """What a new reservation may take (negative when over-committed)."""
        # Held before used: a call recorded between the two reads (ledger rows are written
        # without the pool's lock) then counts twice, never zero times (READ COMMITTED).
        held = self.held()
        used, _cost = self.used()
        return self.limit - used - held


def _window(joined: datetime, left: datetime | None) -> Q:
    rows = Q(created_at__gte=joined)
    return rows & Q(created_at__lt=left) if left is not None else rows


def school_records(*, school: School, start: datetime | None, end: datetime | None) -> Q:
    """The school's ledger rows in [start, end): its teachers' rows while they were members.

    One OR term per membership overlapping the period (a school's teachers, bounded)."""
    memberships = SchoolMembership.objects.filter(school=school)
    if start is not None and end is not None:
        memberships = memberships.filter(Q(left_at__isnull=True) | Q(left_at__gt=start), joined_at__lt=end)
    rows = Q(pk__in=[])
    for user_id, joined, left in memberships.values_list("user_id", "joined_at", "left_at"):
        window = Q(user_id=user_id) & _window(joined, left)
        if start is not None:
            window &= Q(created_at__gte=start, created_at__lt=end)
        rows |= window
    return rows


def school_period(*, school: School, now: datetime | None = None) -> tuple[datetime, datetime]:
    """A school's pool renews with its subscription's billing period, else each calendar month
    (settings.TIME_ZONE)."""
    return billing_period(school.period_start, school.period_end, now=now)


def allowance_pool(*, user: User, lock: bool = False) -> Pool:
    """The allowance `user` spends now: their school's pool while a member, else their own.

    With `lock=True` (inside a transaction) the user's Allowance row, which must exist, then the
    school's row are locked until the transaction ends; the membership is read again under the
    school's lock, as a removal closes it under that lock."""
    if lock:
        allowance = Allowance.objects.select_for_update().get(user=user)
    else:
        allowance = Allowance.objects.filter(user=user).first() or Allowance(user=user)
    # One query for the open membership and the past ones (a teacher has a few at most).
    memberships = list(SchoolMembership.objects.filter(user=user).select_related("school"))
    membership = next((m for m in memberships if m.left_at is None), None)
    if membership is not None and lock:
        School.objects.select_for_update().filter(pk=membership.school_id).first()
        open_again = SchoolMembership.objects.filter(pk=membership.pk, left_at__isnull=True)
        membership = open_again.select_related("school").first()
    if membership is not None:
        school = membership.school
        month, following = school_period(school=school)
        return Pool(
            user=user, tier=allowance.tier, limit=school.allowance_tokens, start=month, end=following, school=school
        )
    start, end = usage_period(allowance)
    left = ((m.joined_at, m.left_at) for m in memberships if m.left_at is not None)
    return Pool(
        user=user,
        tier=allowance.tier,
        limit=TIER_LIMITS[allowance.tier],
        start=start,
        end=end,
        left_schools=tuple(left),
    )


def usage_school_by_teacher_month(*, school: School, months: int = 12, now: datetime | None = None) -> list[dict]:
    """The school's ledger per teacher and month, newest month first, for its admin's page:
    rows {user_id, user__email, month, calls, tokens, cost} over the last `months` calendar
    months, each teacher's rows only while they were members. One query, at most
    months × teachers rows."""
    now = now or timezone.now()
    rows = UsageRecord.objects.filter(
        school_records(school=school, start=month_start(now, 1 - months), end=month_start(now, 1))
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
    rows = UsageRecord.objects.filter(school_records(school=school, start=start, end=end))
    per_teacher = rows.values("user_id").annotate(tokens=Sum("total_tokens")).order_by()
    return start, end, {row["user_id"]: row["tokens"] or 0 for row in per_teacher}
