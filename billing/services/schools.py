"""A school's subscription: its admin subscribes for the school, the pool follows the subscription.

The school buys a pooled allowance (accounts.models.School says why): Checkout's quantity is
the number of teachers it pays for (seats), and the pool is the tier's allowance × seats,
shared by its teachers. The school's Stripe customer has no dj-stripe subscriber — the school
admin is also a teacher with a plan of their own, which the school's subscription must never
decide — so billing.models.SchoolCustomer is how webhooks find the school. As for a teacher,
webhooks only say which subscription to look at: its current state, retrieved by id, sets the
school's plan (usage.services.usage_school_plan_set), whatever order they arrive in.
"""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from djstripe.models import Customer, Subscription
from djstripe.settings import djstripe_settings

from accounts.models import School, User
from accounts.services import user_language
from usage.selectors import Tier
from usage.services import usage_school_plan_set

from ..models import SchoolCustomer
from ..plans import PLANS
from ..selectors import school_subscription_governing, subscription_quantity, subscription_tier_and_period
from .base import BillingError, absolute, livemode, stripe_call, stripe_kwargs
from .plans import price_for

SCHOOL_ID_KEY = "corrigo_school_id"
# Checkout's quantity: at least one teacher, at most what a large lycée employs.
SEATS_MAX = 500


def _enabled_check() -> None:
    if not settings.BILLING_ENABLED:
        raise BillingError(_("La facturation est désactivée sur ce serveur."))


def school_of_customer(customer_id: str | None) -> School | None:
    link = SchoolCustomer.objects.filter(customer_id=customer_id).select_related("school").first()
    return link.school if link is not None else None


def _school_from_metadata(metadata: dict[str, Any] | None) -> School | None:
    school_id = str((metadata or {}).get(SCHOOL_ID_KEY) or "")
    return School.objects.filter(pk=school_id).first() if school_id.isdigit() else None


def school_customer_get_or_create(*, school: School, admin: User) -> Customer:
    """The school's Stripe customer (one per school and mode), created on its first checkout."""
    with transaction.atomic():
        School.objects.select_for_update().get(pk=school.pk)  # two admins clicking at once: one customer
        known = SchoolCustomer.objects.filter(school=school).values("customer_id")
        customer = Customer.objects.filter(id__in=known, livemode=livemode(), date_purged__isnull=True).first()
        if customer is not None:
            return customer
        data = stripe.Customer.create(
            email=admin.email,
            name=school.name,
            metadata={SCHOOL_ID_KEY: str(school.pk)},
            idempotency_key=f"corrigo-school-customer-{school.pk}-{SchoolCustomer.objects.filter(school=school).count()}",
            **stripe_kwargs(),
        )
        customer = Customer.sync_from_stripe_data(data, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        SchoolCustomer.objects.get_or_create(customer_id=customer.id, defaults={"school": school})
    return customer


def billing_school_checkout_start(*, school: School, admin: User, tier: str, seats: int) -> str:
    """Where to send the school admin who chose `tier` for `seats` teachers: Checkout for the
    school's first subscription, the Customer Portal (plan and quantity changes) afterwards."""
    _enabled_check()
    plan = PLANS.get(tier)
    if plan is None:
        raise BillingError(_("Cette offre n'est pas disponible pour le moment."))
    if not 1 <= seats <= SEATS_MAX:
        raise BillingError(_("Le nombre d'enseignants doit être compris entre 1 et %(max)s.") % {"max": SEATS_MAX})
    if subscription_tier_and_period(school_subscription_governing(school=school))[0] != Tier.FREE:
        return billing_school_portal_session_create(school=school, admin=admin)
    with stripe_call():
        price = price_for(plan)
        customer = school_customer_get_or_create(school=school, admin=admin)
        metadata = {SCHOOL_ID_KEY: str(school.pk), "corrigo_tier": tier}
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer.id,
            "client_reference_id": f"school-{school.pk}",
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "line_items": [{"price": price.id, "quantity": seats}],
            "billing_address_collection": "required",
            "tax_id_collection": {"enabled": True},
            "customer_update": {"address": "auto", "name": "auto"},
            "locale": user_language(admin),
            "success_url": absolute(reverse("school_detail", args=[school.pk])) + "?checkout=success",
            "cancel_url": absolute(reverse("school_detail", args=[school.pk])),
        }
        if settings.BILLING_AUTOMATIC_TAX:
            params["automatic_tax"] = {"enabled": True}
        session = stripe.checkout.Session.create(**params, **stripe_kwargs())
    return session["url"]


def billing_school_portal_session_create(*, school: School, admin: User) -> str:
    """A Customer Portal session on the school's customer (plan, seats, card, invoices)."""
    _enabled_check()
    known = SchoolCustomer.objects.filter(school=school).values("customer_id")
    customer = Customer.objects.filter(id__in=known, livemode=livemode(), date_purged__isnull=True).first()
    if customer is None:
        raise BillingError(_("Votre établissement n'a pas encore d'abonnement : choisissez une offre."))
    with stripe_call():
        session = stripe.billing_portal.Session.create(
            customer=customer.id,
            return_url=absolute(reverse("school_detail", args=[school.pk])),
            locale=user_language(admin),
            **stripe_kwargs(),
        )
    return session["url"]


def billing_school_plan_apply(*, school: School) -> str:
    """Sets the school's plan (tier, seats, period, pool) from its (already synced) subscriptions."""
    subscription = school_subscription_governing(school=school)
    tier, start, end = subscription_tier_and_period(subscription)
    seats = subscription_quantity(subscription)
    if tier == Tier.FREE:
        start = end = None
    usage_school_plan_set(school=school, tier=tier, seats=seats, period_start=start, period_end=end)
    return tier


def school_for_subscription(subscription: Subscription, data: dict[str, Any]) -> School | None:
    """The school a synced subscription pays for: its customer's (SchoolCustomer), else its
    metadata's (a subscription created by our Checkout), then remembered for its customer."""
    customer_id = subscription.customer.id if subscription.customer else data.get("customer")
    school = school_of_customer(customer_id) or _school_from_metadata(data.get("metadata"))
    if school is not None and customer_id:
        SchoolCustomer.objects.get_or_create(customer_id=customer_id, defaults={"school": school})
    return school
