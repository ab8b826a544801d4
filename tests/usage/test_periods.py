"""Which usage counts: FREE for life, paid tiers per billing period or calendar month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from usage.models import Allowance, UsageRecord
from usage.selectors import TIER_LIMITS, Tier, month_start, usage_period, usage_summary
from usage.services import usage_plan_set

pytestmark = pytest.mark.django_db


def at(user, when: datetime, tokens: int, spend):
    record = spend(user, tokens)
    UsageRecord.objects.filter(pk=record.pk).update(created_at=when)
    return record


def paris(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


def test_free_usage_never_resets(teacher, spend):
    at(teacher, datetime(2024, 1, 5, tzinfo=UTC), 60_000, spend)
    at(teacher, timezone.now(), 10_000, spend)
    summary = usage_summary(user=teacher)
    assert summary.tier == Tier.FREE
    assert summary.has_monthly_reset is False
    assert (summary.period_start, summary.period_end) == (None, None)
    assert summary.tokens_used == 70_000
    assert summary.remaining == TIER_LIMITS[Tier.FREE] - 70_000


def test_a_paid_tier_without_billing_period_counts_the_calendar_month(teacher, spend):
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)
    first, following = month_start(timezone.now()), month_start(timezone.now(), 1)
    assert (first.day, first.hour, first.minute) == (1, 0, 0)  # local midnight (Paris), not UTC
    at(teacher, first - timedelta(minutes=1), 500_000, spend)  # last month, Paris time
    at(teacher, first, 100_000, spend)  # first instant of the month
    at(teacher, following, 7_000, spend)  # next month
    summary = usage_summary(user=teacher)
    assert (summary.period_start, summary.period_end) == (first, following)
    assert summary.tokens_used == 100_000
    assert summary.has_monthly_reset is True


def test_the_december_period_ends_on_new_year(teacher):
    usage_plan_set(user=teacher, tier=Tier.PRO)
    start, end = usage_period(teacher.allowance, now=paris(2026, 12, 31, 23, 30))
    assert (start, end) == (paris(2026, 12, 1), paris(2027, 1, 1))


def test_a_paid_tier_resets_at_the_start_of_its_billing_period(teacher, spend):
    start = timezone.now().replace(microsecond=0) - timedelta(days=10)
    end = start + timedelta(days=30)
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL, period_start=start, period_end=end)
    at(teacher, start - timedelta(minutes=1), 900_000, spend)  # previous period
    at(teacher, start, 200_000, spend)
    summary = usage_summary(user=teacher)
    assert (summary.period_start, summary.period_end) == (start, end)
    assert summary.tokens_used == 200_000
    assert summary.remaining == TIER_LIMITS[Tier.ESSENTIEL] - 200_000


def test_an_ended_billing_period_rolls_forward_until_billing_tells_the_next_one(teacher, spend):
    usage_plan_set(
        user=teacher,
        tier=Tier.PRO,
        period_start=datetime(2026, 1, 31, tzinfo=UTC),
        period_end=datetime(2026, 2, 28, tzinfo=UTC),
    )
    start, end = usage_period(teacher.allowance, now=datetime(2026, 3, 1, tzinfo=UTC))
    # Stripe keeps the anchor's day: after Jan 31 → Feb 28 comes Feb 28 → Mar 31.
    assert (start, end) == (datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))


def day(month, d, *rest):
    return datetime(2026, month, d, *rest, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "period"),
    [
        (day(2, 27, 23, 59, 59), (day(1, 31), day(2, 28))),  # just before the end: the period billing set
        (day(2, 28), (day(2, 28), day(3, 31))),  # exactly at its end: the next one
        (day(3, 30, 23, 59, 59), (day(2, 28), day(3, 31))),
        (day(3, 31), (day(3, 31), day(4, 30))),  # exactly at a renewal billing has not told
        (day(5, 15), (day(4, 30), day(5, 31))),  # three months late
    ],
)
def test_a_period_rolls_forward_renewal_by_renewal_on_its_anchor_day(teacher, now, period):
    usage_plan_set(user=teacher, tier=Tier.PRO, period_start=day(1, 31), period_end=day(2, 28))
    assert usage_period(teacher.allowance, now=now) == period


def test_a_change_of_tier_mid_period_takes_effect_at_once(teacher, spend):
    usage_plan_set(user=teacher, tier=Tier.ESSENTIEL)
    spend(teacher, 1_000_000)
    assert usage_summary(user=teacher).remaining == TIER_LIMITS[Tier.ESSENTIEL] - 1_000_000
    usage_plan_set(user=teacher, tier=Tier.PRO)
    summary = usage_summary(user=teacher)
    assert summary.limit == TIER_LIMITS[Tier.PRO]
    assert summary.tokens_used == 1_000_000  # the same period: usage carries over
    assert summary.remaining == TIER_LIMITS[Tier.PRO] - 1_000_000
    usage_plan_set(user=teacher, tier=Tier.FREE)
    # The one-shot trial counts all usage ever.
    assert usage_summary(user=teacher).remaining == TIER_LIMITS[Tier.FREE] - 1_000_000


def test_plan_set_refuses_an_unknown_tier_or_a_backwards_period(teacher):
    with pytest.raises(ValueError):
        usage_plan_set(user=teacher, tier="platinum")
    with pytest.raises(ValueError):
        usage_plan_set(
            user=teacher,
            tier=Tier.PRO,
            period_start=datetime(2026, 4, 1, tzinfo=UTC),
            period_end=datetime(2026, 3, 1, tzinfo=UTC),
        )
    assert usage_summary(user=teacher).tier == Tier.FREE
    assert not Allowance.objects.filter(user=teacher).exclude(tier=Tier.FREE).exists()
