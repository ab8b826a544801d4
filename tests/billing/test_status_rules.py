"""Billing's status mapping on tables of cases, without a database: the subscription objects
are the fake Stripe's (the shapes its webhooks deliver), read by the selectors as dj-stripe
stores them (`stripe_data`). test_webhook_tier.py drives the same rules through the webhook."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from djstripe.models import Subscription

from billing.plans import PLANS, plan_rows, tier_for_price
from billing.selectors import BillingStatus, _invoice_amount, subscription_quantity, subscription_tier_and_period
from tests.billing.fake_stripe import DAY, FakeStripe
from usage.tiers import TIER_LIMITS, TIER_RESETS, Tier


@pytest.fixture
def stripe():
    fake = FakeStripe()
    fake.prices = fake.plans_seed()
    return fake


def subscription(stripe: FakeStripe, *tiers: str, status: str = "active") -> dict:
    data = stripe.subscription_create(customer_id="cus_1", price=stripe.prices[tiers[0]])
    start = data["items"]["data"][0]["current_period_start"]
    for n, tier in enumerate(tiers[1:], start=1):  # later items: their own periods, a day apart
        data["items"]["data"].append(
            stripe._item(data["id"], stripe.prices[tier], start + n * DAY, start + (30 + n) * DAY)
        )
    data["status"] = status
    return data


def at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


@pytest.mark.parametrize(
    ("status", "paid"),
    [
        ("trialing", True),
        ("active", True),
        ("past_due", True),
        ("incomplete", False),
        ("incomplete_expired", False),
        ("unpaid", False),
        ("canceled", False),
        ("paused", False),
        (None, False),
    ],
)
def test_each_status_keeps_the_paid_tier_or_falls_to_free(stripe, status, paid):
    data = subscription(stripe, Tier.PRO, status=status)
    item = data["items"]["data"][0]

    granted = subscription_tier_and_period(Subscription(stripe_data=data))

    expected = (Tier.PRO, at(item["current_period_start"]), at(item["current_period_end"]))
    assert granted == (expected if paid else (Tier.FREE, None, None))


def test_no_subscription_is_free():
    assert subscription_tier_and_period(None) == (Tier.FREE, None, None)
    assert subscription_tier_and_period(Subscription(stripe_data=None)) == (Tier.FREE, None, None)


@pytest.mark.parametrize(
    ("tiers", "best"),
    [
        ((Tier.ESSENTIEL, Tier.MAX, Tier.PRO), 1),
        ((Tier.MAX, Tier.ESSENTIEL), 0),
        ((Tier.PRO, Tier.PRO), 0),  # a tie keeps the first item
    ],
)
def test_the_best_item_gives_the_tier_and_its_own_period(stripe, tiers, best):
    data = subscription(stripe, *tiers)
    item = data["items"]["data"][best]

    granted = subscription_tier_and_period(Subscription(stripe_data=data))

    assert granted == (tiers[best], at(item["current_period_start"]), at(item["current_period_end"]))


def test_an_item_without_its_period_takes_the_subscriptions(stripe):
    # Before API 2025-03-31 the billing period lived on the subscription itself.
    data = subscription(stripe, Tier.ESSENTIEL)
    item = data["items"]["data"][0]
    data["current_period_start"], data["current_period_end"] = (
        item.pop("current_period_start"),
        item.pop("current_period_end"),
    )

    granted = subscription_tier_and_period(Subscription(stripe_data=data))

    assert granted == (Tier.ESSENTIEL, at(data["current_period_start"]), at(data["current_period_end"]))


def test_a_subscription_to_no_known_price_is_free(stripe):
    data = subscription(stripe, Tier.PRO)
    data["items"]["data"][0]["price"] = {"id": "price_other", "lookup_key": "someone_elses", "metadata": {}}
    assert subscription_tier_and_period(Subscription(stripe_data=data)) == (Tier.FREE, None, None)
    del data["items"]
    assert subscription_tier_and_period(Subscription(stripe_data=data)) == (Tier.FREE, None, None)


@pytest.mark.parametrize(
    ("price", "tier"),
    [
        ({"lookup_key": "corrigo_pro_monthly"}, Tier.PRO),
        ({"lookup_key": "corrigo_max_monthly", "metadata": {"corrigo_tier": "essentiel"}}, Tier.MAX),  # the key wins
        ({"lookup_key": None, "metadata": {"corrigo_tier": "essentiel"}}, Tier.ESSENTIEL),
        ({"lookup_key": "renamed", "metadata": {"corrigo_tier": "max"}}, Tier.MAX),
        ({"metadata": {"corrigo_tier": "free"}}, None),  # not a paid plan
        ({"metadata": {"corrigo_tier": "platinum"}}, None),
        ({"lookup_key": "renamed", "metadata": None}, None),
        ({}, None),
        (None, None),
    ],
)
def test_a_price_stands_for_a_tier_by_its_lookup_key_else_its_metadata(price, tier):
    assert tier_for_price(price) == tier


def test_the_plans_list_every_tier_free_first_with_its_allowance_and_price():
    rows = plan_rows()

    assert [row.tier for row in rows] == [Tier.FREE, Tier.ESSENTIEL, Tier.PRO, Tier.MAX]
    assert [row.label for row in rows] == ["Gratuit", "Essentiel", "Pro", "Max"]
    assert [row.tokens for row in rows] == [TIER_LIMITS[row.tier] for row in rows]
    assert [row.resets for row in rows] == [TIER_RESETS[row.tier] for row in rows] == [False, True, True, True]
    assert [row.plan for row in rows] == [None, PLANS[Tier.ESSENTIEL], PLANS[Tier.PRO], PLANS[Tier.MAX]]
    assert [(plan.amount, plan.tokens) for plan in PLANS.values()] == [
        (9.0, TIER_LIMITS[Tier.ESSENTIEL]),
        (27.0, TIER_LIMITS[Tier.PRO]),
        (72.0, TIER_LIMITS[Tier.MAX]),
    ]


@pytest.mark.parametrize(
    ("status", "problem"),
    [("past_due", True), ("unpaid", True), ("incomplete", True), ("active", False), ("canceled", False), (None, False)],
)
def test_a_payment_problem_is_a_subscription_waiting_for_a_payment(status, problem):
    status_ = BillingStatus(
        enabled=True,
        tier=Tier.PRO,
        subscription_id="sub_1",
        status=status,
        period_start=at(1_800_000_000),
        period_end=None,
        cancel_at_period_end=True,
    )

    assert status_.payment_problem is problem
    assert status_.tier_label == "Pro"
    assert status_.as_dict() == {
        "billing_enabled": True,
        "tier": "pro",
        "subscription_id": "sub_1",
        "status": status,
        "period_start": "2027-01-15T08:00:00+00:00",
        "period_end": None,
        "cancel_at_period_end": True,
    }


@pytest.mark.parametrize(
    ("invoice", "amount"),
    [
        ({"total": 2700, "amount_due": 0}, 27.0),  # paid by the balance: still what it billed
        ({"total": 0, "amount_due": 900}, 0.0),
        ({"total": None, "amount_due": 900}, 9.0),
        ({"amount_due": 7200}, 72.0),
        ({"amount_due": None}, 0.0),
        ({}, 0.0),
    ],
)
def test_an_invoice_shows_its_total_in_currency_units(invoice, amount):
    assert _invoice_amount(invoice) == amount


def test_the_seats_are_the_quantity_of_the_item_that_grants_the_tier(stripe):
    data = subscription(stripe, Tier.ESSENTIEL, Tier.PRO, Tier.PRO)
    for item, quantity in zip(data["items"]["data"], (9, 2, 7), strict=True):
        item["quantity"] = quantity
    assert subscription_quantity(Subscription(stripe_data=data)) == 7  # the larger of the PRO items
    data["items"]["data"][2]["quantity"] = None
    assert subscription_quantity(Subscription(stripe_data=data)) == 2
    data["items"]["data"][1]["quantity"] = None  # no PRO item says how many: no seat, not one
    assert subscription_quantity(Subscription(stripe_data=data)) == 0
    data["items"]["data"][1]["quantity"] = 2
    data["status"] = "canceled"
    assert subscription_quantity(Subscription(stripe_data=data)) == 0
    assert subscription_quantity(None) == 0
