"""Usage periods: the span of time an allowance counts in. Pure date arithmetic on an Allowance."""

from __future__ import annotations

import calendar
from datetime import datetime

from django.utils import timezone

from .models import Allowance
from .tiers import TIER_RESETS


def month_start(moment: datetime, months: int = 0) -> datetime:
    """Local midnight on the first day of the month `months` after `moment`'s month."""
    local = timezone.localtime(moment)
    index = local.year * 12 + local.month - 1 + months
    naive = datetime(index // 12, index % 12 + 1, 1)  # noqa: DTZ001 — made aware on the next line
    return timezone.make_aware(naive)


def _shift_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole months, the day clamped to the month's length (Stripe's rule)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def usage_period(allowance: Allowance, *, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the period usage counts in, end exclusive. FREE: the whole account life (None, None).

    Paid tiers use the billing period set by billing (usage_plan_set). When that period has
    ended and billing has not yet told the next one (a late webhook), it rolls forward by whole
    months from the period's start (its anchor), as Stripe renews monthly plans, so usage from the previous
    period never leaks into the new one. Without a billing period: the calendar month
    (settings.TIME_ZONE).
    """
    if not TIER_RESETS[allowance.tier]:
        return None, None
    return billing_period(allowance.period_start, allowance.period_end, now=now)


def billing_period(
    start: datetime | None, end: datetime | None, *, now: datetime | None = None
) -> tuple[datetime, datetime]:
    """The period in force now from a billing period [start, end) billing told (rolled forward
    by whole months once it has ended, usage_period's rule), else the calendar month."""
    now = now or timezone.now()
    if start and end and start < end and start <= now:
        if now < end:
            return start, end
        # Renewals keep the anchor's day where the month has it (Stripe: from Jan 31, Feb 28 →
        # Mar 31 → Apr 30), however many renewals billing has not told yet.
        months = 1
        while _shift_months(start, months) < end:
            months += 1
        while now >= _shift_months(start, months + 1):
            months += 1
        return _shift_months(start, months), _shift_months(start, months + 1)
    return month_start(now), month_start(now, 1)
