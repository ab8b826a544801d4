"""subscribe → upgrade → downgrade → payment failed → recovered → cancelled, delivered in
order, shuffled and with duplicates: the tier, the period and the allowance always end up
matching the subscription as Stripe holds it now."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from djstripe.models import Event

from tests.billing.scenario import SubscriptionStory
from usage.models import Allowance
from usage.selectors import usage_summary
from usage.tiers import TIER_LIMITS, Tier


def _stripe_period(fake, sub):
    item = fake.objects[sub["id"]]["items"]["data"][0]
    return (
        datetime.fromtimestamp(item["current_period_start"], tz=UTC),
        datetime.fromtimestamp(item["current_period_end"], tz=UTC),
    )


def _assert_follows(teacher, fake, story, tier):
    summary = usage_summary(user=teacher)
    assert summary.tier == tier
    assert summary.limit == TIER_LIMITS[tier]
    allowance = Allowance.objects.get(user=teacher)
    if tier == Tier.FREE:
        assert (allowance.period_start, allowance.period_end) == (None, None)
    else:
        assert (allowance.period_start, allowance.period_end) == _stripe_period(fake, story.sub)


def test_events_delivered_in_order_move_the_tier_step_by_step(teacher, fake_stripe, prices, webhooks):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    seen = []
    for step_make in story.steps():
        step = step_make()
        for event in step.events:
            webhooks.deliver(event)
        _assert_follows(teacher, fake_stripe, story, step.tier)
        seen.append((step.name, usage_summary(user=teacher).tier))
    assert [tier for _name, tier in seen] == ["essentiel", "max", "pro", "pro", "pro", "free"]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("steps_done", [1, 2, 3, 4, 5, 6])
def test_shuffled_and_duplicated_events_end_on_the_current_state(
    teacher, fake_stripe, prices, webhooks, seed, steps_done
):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    steps = [make() for make in story.steps()[:steps_done]]
    events = [event for step in steps for event in step.events]
    rng = random.Random(seed * 100 + steps_done)
    deliveries = events + rng.sample(events, k=max(1, len(events) // 2))  # Stripe retries some
    rng.shuffle(deliveries)

    for event in deliveries:
        webhooks.deliver(event)

    _assert_follows(teacher, fake_stripe, story, steps[-1].tier)
    assert Event.objects.count() == len(events)


def test_a_stale_payload_never_wins_over_the_subscription_retrieved_by_id(teacher, fake_stripe, prices, webhooks):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    subscribe = story.subscribe()
    upgrade = story.upgrade()  # payload says MAX + active
    story.cancelled()  # …but by the time it arrives, the subscription is gone

    webhooks.deliver(upgrade.events[0])

    assert upgrade.events[0]["data"]["object"]["items"]["data"][0]["price"]["lookup_key"] == "corrigo_max_monthly"
    _assert_follows(teacher, fake_stripe, story, Tier.FREE)
    assert subscribe.tier == Tier.ESSENTIEL


@pytest.mark.parametrize("status", ["unpaid", "incomplete_expired", "canceled"])
def test_unpaid_or_expired_subscriptions_fall_back_to_free(teacher, fake_stripe, prices, webhooks, status):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    assert usage_summary(user=teacher).tier == Tier.ESSENTIEL

    fake_stripe.subscription_status(story.sub["id"], status)
    webhooks.deliver(fake_stripe.event("customer.subscription.updated", story.sub))

    _assert_follows(teacher, fake_stripe, story, Tier.FREE)


def test_past_due_keeps_the_paid_tier(teacher, fake_stripe, prices, webhooks):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    for make in story.steps()[:4]:
        for event in make().events:
            webhooks.deliver(event)

    assert fake_stripe.objects[story.sub["id"]]["status"] == "past_due"
    _assert_follows(teacher, fake_stripe, story, Tier.PRO)


def test_another_teachers_subscription_does_not_touch_this_teacher(
    teacher, other_teacher, fake_stripe, prices, webhooks
):
    story = SubscriptionStory(fake_stripe, prices, other_teacher)
    for event in story.subscribe().events:
        webhooks.deliver(event)

    assert usage_summary(user=other_teacher).tier == Tier.ESSENTIEL
    assert usage_summary(user=teacher).tier == Tier.FREE
