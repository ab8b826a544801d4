"""Subscription state → tier: the tier and period of a teacher always follow the *current*
state of their Stripe subscriptions, retrieved by id: webhook payloads only tell us which
subscription to look at, never what it looks like (events arrive late, twice, or out of order).
"""

from __future__ import annotations

import logging
from typing import Any

import stripe
from djstripe.models import Customer, Subscription
from djstripe.settings import djstripe_settings

from accounts.models import User
from usage.selectors import Tier
from usage.services import usage_plan_set

from ..selectors import subscription_governing, subscription_tier_and_period
from .base import USER_ID_KEY, stripe_kwargs
from .customers import customer_link, user_of_customer
from .schools import billing_school_plan_apply, school_for_subscription, school_of_customer

logger = logging.getLogger(__name__)

# Stripe's final statuses: a subscription in one of them never changes again.
ENDED = ("canceled", "incomplete_expired")


def _user_from_metadata(metadata: dict[str, Any] | None) -> User | None:
    user_id = (metadata or {}).get(USER_ID_KEY)
    if not user_id:
        return None
    return User.objects.filter(pk=user_id).first()


def billing_user_tier_apply(*, user: User) -> str:
    """Sets the user's tier and period from their (already synced) subscriptions."""
    subscription = subscription_governing(user=user)
    tier, start, end = subscription_tier_and_period(subscription)
    if tier == Tier.FREE:
        start = end = None
    usage_plan_set(user=user, tier=tier, period_start=start, period_end=end)
    return tier


def billing_subscription_sync(*, subscription_id: str, user: User | None = None) -> User | None:
    """Retrieves the subscription from Stripe, stores it, and applies it to its user.

    Returns the user (None when the subscription belongs to nobody we know).
    """
    # Two deliveries for one subscription must not cross: holding its row while we fetch
    # makes the later transaction fetch after the earlier one committed, so it sees newer state.
    Subscription.objects.select_for_update().filter(id=subscription_id).first()
    data = stripe.Subscription.retrieve(subscription_id, **stripe_kwargs())
    subscription = Subscription.sync_from_stripe_data(data, api_key=djstripe_settings.STRIPE_SECRET_KEY)
    customer = subscription.customer
    school = school_for_subscription(subscription, data.to_dict())
    if school is not None:
        # A school's subscription decides its pool, never a teacher's tier (not even its admin's).
        billing_school_plan_apply(school=school)
        return None
    user = (
        user
        or (customer.subscriber if customer else None)
        or user_of_customer(customer.id if customer else data.to_dict().get("customer"))
        or _user_from_metadata(data.to_dict().get("metadata"))
    )
    if user is None:
        logger.warning("Subscription %s has no Corrigo user", subscription_id)
        return None
    customer_link(customer, user)
    billing_user_tier_apply(user=user)
    return user


def billing_customer_deleted(*, customer_id: str) -> User | None:
    """customer.deleted: Stripe ended the customer's subscriptions with it; the teacher's tier
    follows at once, whichever of this event and `customer.subscription.deleted` comes first.

    Each subscription we hold for the customer that has not already ended is retrieved again
    (Stripe's state, not the payload's; an ended one cannot change), then the tier is applied
    to the teacher the customer belonged to.
    """
    live = Subscription.objects.filter(customer_id=customer_id).exclude(stripe_data__status__in=ENDED)
    for subscription_id in live.values_list("id", flat=True):
        billing_subscription_sync(subscription_id=subscription_id)
    school = school_of_customer(customer_id)
    if school is not None:
        billing_school_plan_apply(school=school)
        return None
    user = user_of_customer(customer_id)
    if user is not None:
        billing_user_tier_apply(user=user)
    return user


def billing_checkout_completed(*, session: dict[str, Any]) -> User | None:
    """checkout.session.completed: links the customer to the user, then syncs the subscription."""
    if session.get("mode") != "subscription" or not session.get("subscription"):
        return None
    user_id = session.get("client_reference_id") or (session.get("metadata") or {}).get(USER_ID_KEY)
    user = User.objects.filter(pk=user_id).first() if user_id and str(user_id).isdigit() else None
    customer_id = session.get("customer")
    if user is not None and customer_id:
        customer_link(Customer.objects.filter(id=customer_id).first(), user)
    subscription_id = session["subscription"]
    if not isinstance(subscription_id, str):
        subscription_id = subscription_id["id"]
    return billing_subscription_sync(subscription_id=subscription_id, user=user)


def invoice_subscription_id(invoice: dict[str, Any]) -> str | None:
    """The subscription an invoice bills: `parent.subscription_details` since API 2025-03-31."""
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    sub = details.get("subscription") or invoice.get("subscription")
    if sub and not isinstance(sub, str):
        sub = sub.get("id")
    return sub or None
