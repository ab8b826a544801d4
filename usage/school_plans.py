"""A school's plan, set by billing from the school's subscription (usage.services re-exports it)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from accounts.models import School

from .tiers import TIER_LIMITS, Tier


def usage_school_plan_set(
    *,
    school: School,
    tier: str,
    seats: int,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
) -> School:
    """Billing sets the school's plan from its subscription: the pool becomes the tier's
    allowance × `seats` (the subscription's quantity) over the billing period; FREE (no live
    subscription) or no seat empties it. Saved only when something changed, under the school's
    row lock (usage.pools' order: a reservation never reads a half-set plan)."""
    if tier not in Tier.values:
        raise ValueError(f"unknown tier {tier!r}")
    if seats < 0:
        raise ValueError("seats must be >= 0")
    if (period_start is None) != (period_end is None):
        raise ValueError("period_start and period_end go together")
    if tier == Tier.FREE or seats == 0:
        tier, seats, period_start, period_end = "", 0, None, None
    tokens = TIER_LIMITS[tier] * seats if tier else 0
    with transaction.atomic():
        school = School.objects.select_for_update().get(pk=school.pk)
        wanted = (tier, seats, period_start, period_end, tokens)
        if (school.tier, school.seats, school.period_start, school.period_end, school.allowance_tokens) != wanted:
            school.tier, school.seats, school.period_start, school.period_end, school.allowance_tokens = wanted
            school.save(update_fields=["tier", "seats", "period_start", "period_end", "allowance_tokens"])
    return school
