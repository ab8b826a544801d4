"""Webhooks → the teacher's tier and period, whatever the order Stripe delivers them in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from djstripe.models import Customer

from usage.selectors import usage_summary
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


def test_a_customer_created_by_checkout_is_linked_through_client_reference_id(teacher, fake_stripe, prices, webhooks):
    customer = fake_stripe.customer_create(email=teacher.email)  # no djstripe_subscriber metadata
    sub = fake_stripe.subscription_create(customer_id=customer["id"], price=prices["max"])
    session = fake_stripe.checkout_session_create(
        {"mode": "subscription", "customer": customer["id"], "client_reference_id": str(teacher.pk)}
    )
    session.update(status="complete", subscription=sub["id"])

    webhooks.deliver(fake_stripe.event("checkout.session.completed", session))

    assert Customer.objects.get(id=customer["id"]).subscriber == teacher
    assert usage_summary(user=teacher).tier == Tier.MAX


def test_a_subscription_of_an_unknown_customer_finds_its_teacher_in_the_metadata(
    teacher, fake_stripe, prices, webhooks
):
    customer = fake_stripe.customer_create(email="someone@else.example")
    sub = fake_stripe.subscription_create(
        customer_id=customer["id"], price=prices["essentiel"], metadata={"corrigo_user_id": str(teacher.pk)}
    )

    webhooks.deliver(fake_stripe.event("customer.subscription.created", sub))

    assert usage_summary(user=teacher).tier == Tier.ESSENTIEL


def test_a_subscription_nobody_owns_changes_no_one(teacher, fake_stripe, prices, webhooks):
    customer = fake_stripe.customer_create(email="stranger@else.example")
    sub = fake_stripe.subscription_create(customer_id=customer["id"], price=prices["max"])

    webhooks.deliver(fake_stripe.event("customer.subscription.created", sub))

    assert usage_summary(user=teacher).tier == Tier.FREE


@pytest.mark.parametrize(
    ("status", "tier"),
    [
        ("trialing", Tier.PRO),  # a trial is paid access
        ("active", Tier.PRO),
        ("past_due", Tier.PRO),  # Stripe retries the payment: access stays meanwhile
        ("incomplete", Tier.FREE),  # the first payment never went through
        ("incomplete_expired", Tier.FREE),
        ("unpaid", Tier.FREE),
        ("canceled", Tier.FREE),
        ("paused", Tier.FREE),
    ],
)
def test_the_tier_follows_the_subscriptions_status(teacher, fake_stripe, prices, webhooks, status, tier):
    customer = fake_stripe.customer_create(email="t@example.fr", metadata={"corrigo_user_id": str(teacher.pk)})
    sub = fake_stripe.subscription_create(
        customer_id=customer["id"], price=prices["pro"], metadata={"corrigo_user_id": str(teacher.pk)}
    )
    fake_stripe.subscription_status(sub["id"], status)

    webhooks.deliver(fake_stripe.event("customer.subscription.updated", sub))

    assert usage_summary(user=teacher).tier == tier
