"""Webhooks → the teacher's tier and period, whatever the order Stripe delivers them in."""

from __future__ import annotations

from datetime import UTC, datetime

from djstripe.models import Customer

from usage.services import usage_summary
from usage.tiers import TIER_LIMITS, Tier


def _customer_for(fake_stripe, user):
    data = fake_stripe.customer_create(email=user.email, metadata={"djstripe_subscriber": str(user.pk)})
    Customer.objects.create(id=data["id"], subscriber=user, livemode=False)
    return data


def test_a_subscription_created_event_gives_the_paid_tier_and_the_stripe_period(teacher, fake_stripe, prices, webhooks):
    customer = _customer_for(fake_stripe, teacher)
    sub = fake_stripe.subscription_create(customer_id=customer["id"], price=prices["pro"])

    webhooks.deliver(fake_stripe.event("customer.subscription.created", sub))

    summary = usage_summary(user=teacher)
    assert summary.tier == Tier.PRO
    assert summary.limit == TIER_LIMITS[Tier.PRO]
    item = sub["items"]["data"][0]
    assert summary.period_start == datetime.fromtimestamp(item["current_period_start"], tz=UTC)
    assert summary.period_end == datetime.fromtimestamp(item["current_period_end"], tz=UTC)
