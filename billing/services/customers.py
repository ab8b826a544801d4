"""Stripe customers and the teacher each belongs to (kept when dj-stripe forgets it)."""

from __future__ import annotations

from djstripe.models import Customer

from accounts.models import User

from ..models import CustomerOwner
from .base import USER_ID_KEY, livemode


def customer_owner_set(*, customer_id: str, user: User) -> None:
    """Remembers that the Stripe customer is this teacher's (the first owner stays)."""
    CustomerOwner.objects.get_or_create(customer_id=customer_id, defaults={"user": user})


def billing_customer_get_or_create(*, user: User) -> Customer:
    customer, _created = Customer.get_or_create(
        subscriber=user, livemode=livemode(), metadata={USER_ID_KEY: str(user.pk)}
    )
    customer_owner_set(customer_id=customer.id, user=user)
    return customer


def user_of_customer(customer_id: str | None) -> User | None:
    owner = CustomerOwner.objects.filter(customer_id=customer_id).select_related("user").first()
    return owner.user if owner is not None else None


def customer_link(customer: Customer | None, user: User) -> None:
    if customer is None or user is None:
        return
    customer_owner_set(customer_id=customer.id, user=user)
    # A customer deleted at Stripe (purged by dj-stripe) stays unlinked: its subscriptions
    # are over and must not count for the teacher again.
    if customer.subscriber_id is None and customer.date_purged is None:
        customer.subscriber = user
        customer.save(update_fields=["subscriber"])
