"""The school's subscription as billing reads it from what the webhooks stored: its status,
period and seats at each step of its story, and nothing without one or with billing off."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from billing.selectors import (
    BillingStatus,
    school_billing_status,
    school_subscription_governing,
    school_subscriptions,
    subscription_quantity,
)
from tests.schools.story import SchoolSubscriptionStory
from usage.tiers import Tier

pytestmark = pytest.mark.django_db


@pytest.fixture
def story(fake_stripe, prices, school, admin_client, school_teacher, colleague):
    return SchoolSubscriptionStory(fake_stripe, prices, school, admin_client, seats=3)


def test_the_schools_status_follows_its_subscription_step_by_step(story, school, fake_stripe, webhooks):
    seen = []
    for make in story.steps():
        for event in make().events:
            webhooks.deliver(event)
        school.refresh_from_db()
        status = school_billing_status(school=school)
        governing = school_subscription_governing(school=school)
        item = fake_stripe.objects[story.sub["id"]]["items"]["data"][0]
        live = status.status in ("trialing", "active", "past_due")
        assert status == BillingStatus(
            enabled=True,
            tier=school.tier or Tier.FREE,
            subscription_id=story.sub["id"],
            status=story.sub["status"],
            period_start=datetime.fromtimestamp(item["current_period_start"], tz=UTC) if live else None,
            period_end=datetime.fromtimestamp(item["current_period_end"], tz=UTC) if live else None,
            cancel_at_period_end=False,
        )
        seen.append((status.status, status.tier, subscription_quantity(governing), status.payment_problem))
    assert seen == [
        ("trialing", Tier.ESSENTIEL, 3, False),
        ("active", Tier.ESSENTIEL, 3, False),
        ("active", Tier.PRO, 5, False),
        ("past_due", Tier.PRO, 5, True),
        ("active", Tier.PRO, 5, False),
        ("canceled", Tier.FREE, 0, False),
    ]
    assert [s.id for s in school_subscriptions(school=school)] == [story.sub["id"]]


def test_a_school_without_subscription_or_with_billing_off_has_none(story, school, webhooks, settings):
    assert school_subscription_governing(school=school) is None
    assert school_billing_status(school=school).as_dict() == {
        "billing_enabled": True,
        "tier": "free",
        "subscription_id": None,
        "status": None,
        "period_start": None,
        "period_end": None,
        "cancel_at_period_end": False,
    }
    for event in story.subscribe().events:
        webhooks.deliver(event)
    settings.BILLING_ENABLED = False
    school.refresh_from_db()
    status = school_billing_status(school=school)
    assert (status.enabled, status.tier, status.subscription_id, status.status) == (False, Tier.ESSENTIEL, None, None)
    settings.BILLING_ENABLED = True
    story.sub["cancel_at_period_end"] = True
    webhooks.deliver(story.fake.event("customer.subscription.updated", story.sub))
    assert school_billing_status(school=school).cancel_at_period_end is True
