"""GET /api/billing/status/: tier, subscription status, period, cancel_at_period_end."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse

from tests.billing.scenario import SubscriptionStory
from usage.services import usage_plan_set


def test_it_reports_the_subscription_as_stripe_holds_it(owner_client, teacher, fake_stripe, prices, webhooks):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    story.sub["cancel_at_period_end"] = True
    webhooks.deliver(fake_stripe.event("customer.subscription.updated", story.sub))

    body = owner_client.get(reverse("api_billing_status")).json()

    item = story.sub["items"]["data"][0]
    assert body == {
        "billing_enabled": True,
        "tier": "essentiel",
        "subscription_id": story.sub["id"],
        "status": "active",
        "period_start": datetime.fromtimestamp(item["current_period_start"], tz=UTC).isoformat(),
        "period_end": datetime.fromtimestamp(item["current_period_end"], tz=UTC).isoformat(),
        "cancel_at_period_end": True,
    }


def test_without_a_subscription_it_reports_free(owner_client, fake_stripe):
    body = owner_client.get(reverse("api_billing_status")).json()

    assert body["tier"] == "free"
    assert body["status"] is None
    assert body["subscription_id"] is None
    assert body["cancel_at_period_end"] is False


def test_with_billing_off_it_reports_the_tier_an_admin_set(owner_client, teacher, settings):
    settings.BILLING_ENABLED = False
    usage_plan_set(user=teacher, tier="max")

    body = owner_client.get(reverse("api_billing_status")).json()

    assert body["billing_enabled"] is False
    assert body["tier"] == "max"


def test_with_billing_off_a_subscription_left_in_the_tables_is_not_reported(
    owner_client, teacher, fake_stripe, prices, webhooks, settings
):
    story = SubscriptionStory(fake_stripe, prices, teacher)
    for event in story.subscribe().events:
        webhooks.deliver(event)
    settings.BILLING_ENABLED = False

    body = owner_client.get(reverse("api_billing_status")).json()

    assert body == {
        "billing_enabled": False,
        "tier": "essentiel",  # the allowance's, which the webhook set while billing was on
        "subscription_id": None,
        "status": None,
        "period_start": None,
        "period_end": None,
        "cancel_at_period_end": False,
    }


def test_it_needs_authentication(client, db):
    assert client.get(reverse("api_billing_status")).status_code in (401, 403)
