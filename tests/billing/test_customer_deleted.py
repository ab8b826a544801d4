"""A deleted Stripe customer: the tier follows Stripe (its subscriptions are over) whatever the
order of `customer.deleted` and `customer.subscription.deleted`, with or without Corrigo's
metadata on the subscription (one created in Stripe's dashboard has none)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from djstripe.models import Customer

from billing.models import CustomerOwner
from usage.models import Allowance
from usage.selectors import usage_summary
from usage.tiers import Tier


@pytest.fixture
def customer_id(owner_client, teacher, fake_stripe, prices):
    """The teacher's Stripe customer, created the way production does: by starting Checkout."""
    response = owner_client.post(reverse("billing_checkout", args=["pro"]))
    assert response.status_code == 303
    return Customer.objects.get(subscriber=teacher).id


def _subscribed(fake_stripe, prices, webhooks, teacher, customer_id, *, metadata):
    sub = fake_stripe.subscription_create(
        customer_id=customer_id,
        price=prices["pro"],
        metadata={"corrigo_user_id": str(teacher.pk)} if metadata else {},
    )
    webhooks.deliver(fake_stripe.event("customer.subscription.created", sub))
    assert usage_summary(user=teacher).tier == Tier.PRO
    return sub


def _assert_free(teacher):
    assert usage_summary(user=teacher).tier == Tier.FREE
    allowance = Allowance.objects.get(user=teacher)
    assert (allowance.period_start, allowance.period_end) == (None, None)


@pytest.mark.parametrize("metadata", [True, False], ids=["with-metadata", "without-metadata"])
@pytest.mark.parametrize("customer_first", [True, False], ids=["customer-first", "subscription-first"])
def test_a_deleted_customer_leaves_the_paid_tier_whatever_the_order(
    teacher, fake_stripe, prices, webhooks, customer_id, metadata, customer_first
):
    _subscribed(fake_stripe, prices, webhooks, teacher, customer_id, metadata=metadata)
    customer_deleted, subscription_deleted = fake_stripe.customer_delete(customer_id)
    assert (customer_deleted["type"], subscription_deleted["type"]) == (
        "customer.deleted",
        "customer.subscription.deleted",
    )
    first, second = (
        (customer_deleted, subscription_deleted) if customer_first else (subscription_deleted, customer_deleted)
    )

    webhooks.deliver(first)
    _assert_free(teacher)  # Stripe has ended the subscription: the first event is enough
    webhooks.deliver(second)
    _assert_free(teacher)
    webhooks.deliver(first)  # Stripe's retry of an event already processed
    _assert_free(teacher)

    assert Customer.objects.get(id=customer_id).subscriber is None  # dj-stripe purged it…
    assert CustomerOwner.objects.get(customer_id=customer_id).user == teacher  # …the link stays


def test_the_teacher_subscribes_again_after_their_customer_was_deleted(
    owner_client, teacher, fake_stripe, prices, webhooks, customer_id
):
    _subscribed(fake_stripe, prices, webhooks, teacher, customer_id, metadata=False)
    for event in fake_stripe.customer_delete(customer_id):
        webhooks.deliver(event)
    _assert_free(teacher)

    owner_client.post(reverse("billing_checkout", args=["max"]))
    new_customer = Customer.objects.get(subscriber=teacher)
    assert new_customer.id != customer_id
    sub = fake_stripe.subscription_create(customer_id=new_customer.id, price=prices["max"])
    webhooks.deliver(fake_stripe.event("customer.subscription.created", sub))

    assert usage_summary(user=teacher).tier == Tier.MAX
    assert set(CustomerOwner.objects.filter(user=teacher).values_list("customer_id", flat=True)) == {
        customer_id,
        new_customer.id,
    }


def test_a_deleted_customer_of_nobody_we_know_changes_no_one(teacher, fake_stripe, prices, webhooks, customer_id):
    _subscribed(fake_stripe, prices, webhooks, teacher, customer_id, metadata=False)
    stranger = fake_stripe.customer_create(email="stranger@else.example")
    fake_stripe.subscription_create(customer_id=stranger["id"], price=prices["max"])
    for event in fake_stripe.customer_delete(stranger["id"]):
        webhooks.deliver(event)
    assert usage_summary(user=teacher).tier == Tier.PRO
    assert list(CustomerOwner.objects.values_list("customer_id", flat=True)) == [customer_id]


def test_a_deleted_customer_does_not_retrieve_the_subscriptions_that_already_ended(
    teacher, fake_stripe, prices, webhooks, customer_id
):
    sub = _subscribed(fake_stripe, prices, webhooks, teacher, customer_id, metadata=True)
    customer_deleted, subscription_deleted = fake_stripe.customer_delete(customer_id)
    webhooks.deliver(subscription_deleted)
    path = f"/v1/subscriptions/{sub['id']}"
    retrieved = len(fake_stripe.calls("GET", path))
    webhooks.deliver(customer_deleted)
    assert len(fake_stripe.calls("GET", path)) == retrieved
    _assert_free(teacher)
