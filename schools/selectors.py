"""Schools' reads: the schools a user administers, their teachers and their usage.

A school admin reads usage and costs only (usage's ledger, per teacher and month), never a
teacher's exams, copies or grades: nothing here reads grading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import School, SchoolInvitation, SchoolMembership, User
from usage.selectors import usage_school_by_teacher_month, usage_school_period


def schools_administered(*, user: User) -> QuerySet[School]:
    return School.objects.filter(admins=user)


@dataclass(frozen=True)
class SchoolRoles:
    administers: bool  # admin of at least one school: the menu links to its page (its plan)
    member: bool  # a school's teacher now: the school pays, so no personal plan to choose


def school_roles(*, user: User) -> SchoolRoles:
    """What the navigation needs to know of `user`'s schools, in one query (two EXISTS)."""
    row = (
        User.objects.filter(pk=user.pk)
        .annotate(
            administers=Exists(School.objects.filter(admins=OuterRef("pk"))),
            member=Exists(SchoolMembership.objects.filter(user=OuterRef("pk"), left_at__isnull=True)),
        )
        .values_list("administers", "member")
        .first()
    )
    return SchoolRoles(*row) if row else SchoolRoles(administers=False, member=False)


def school_get_for_admin(*, user: User, pk: int) -> School:
    """The school `pk` if `user` is one of its admins, else 404 (one query: admins joined)."""
    school = School.objects.filter(pk=pk, admins=user).first()
    if school is None:
        raise Http404
    return school


def school_teachers(*, school: School) -> QuerySet[SchoolMembership]:
    return (
        SchoolMembership.objects.filter(school=school, left_at__isnull=True)
        .select_related("user")
        .order_by("user__email")
    )


def school_invitations_pending(*, school: School) -> QuerySet[SchoolInvitation]:
    return SchoolInvitation.objects.filter(school=school, accepted_at__isnull=True)


@dataclass(frozen=True)
class TeacherMonth:
    email: str
    month: datetime
    calls: int
    tokens: int
    cost: Decimal


@dataclass(frozen=True)
class SchoolUsage:
    """This month's pool (used / limit) and the ledger per teacher and month."""

    limit: int
    this_month: dict[int, int]  # teacher's user id → tokens spent on the pool this period
    months: list[TeacherMonth]
    period_end: datetime | None = None  # when the pool renews

    @property
    def used(self) -> int:
        return sum(self.this_month.values())

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def percent(self) -> int:
        return min(self.used * 100 // self.limit, 100) if self.limit else 100


def school_usage(*, school: School, now: datetime | None = None) -> SchoolUsage:
    """Two ledger queries: this period per teacher (the pool's: the subscription's billing
    period, else the calendar month) and the last 12 months per teacher."""
    now = now or timezone.now()
    rows = usage_school_by_teacher_month(school=school, now=now)
    _start, end, this_period = usage_school_period(school=school, now=now)
    return SchoolUsage(
        limit=school.allowance_tokens,
        this_month=this_period,
        period_end=end,
        months=[
            TeacherMonth(row["user__email"], row["month"], row["calls"], row["tokens"] or 0, row["cost"] or Decimal(0))
            for row in rows
        ],
    )


__all__ = [
    "SchoolUsage",
    "school_get_for_admin",
    "school_invitations_pending",
    "school_teachers",
    "school_usage",
    "schools_administered",
]
