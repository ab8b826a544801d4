"""Checkout and Customer Portal sessions: where a teacher goes to subscribe or change plan."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from djstripe.models import Customer

from accounts.models import User
from accounts.services import user_language
from usage.selectors import Tier, usage_summary

from ..plans import PLANS
from ..selectors import subscription_governing, subscription_tier_and_period
from .base import USER_ID_KEY, BillingError, absolute, livemode, stripe_call, stripe_kwargs
from .customers import billing_customer_get_or_create
from .plans import price_for


def _enabled_check() -> None:
    # The views show their "billing is off" page first; this guards every other caller.
    if not settings.BILLING_ENABLED:
        raise BillingError(_("La facturation est désactivée sur ce serveur."))


def billing_checkout_start(*, user: User, tier: str) -> str:
    """Where to send a teacher who chose the paid `tier`: Stripe Checkout for a first
    subscription; the Customer Portal for a subscriber, who changes plan there (prorated),
    never with a second subscription."""
    _enabled_check()
    school = usage_summary(user=user).school
    if school:
        # A school's teacher spends its pool: a subscription of their own would pay for nothing.
        raise BillingError(
            _("Votre allocation est offerte par %(school)s : contactez l'administrateur de votre établissement.")
            % {"school": school}
        )
    if subscription_tier_and_period(subscription_governing(user=user))[0] != Tier.FREE:
        return billing_portal_session_create(user=user)
    return billing_checkout_session_create(user=user, tier=tier)


def billing_checkout_session_create(*, user: User, tier: str) -> str:
    """Creates a subscription Checkout Session for `tier`; returns the URL to send the user to."""
    _enabled_check()
    plan = PLANS.get(tier)
    if plan is None:
        raise BillingError(_("Cette offre n'est pas disponible pour le moment."))
    with stripe_call():
        price = price_for(plan)
        customer = billing_customer_get_or_create(user=user)
        metadata = {USER_ID_KEY: str(user.pk), "corrigo_tier": tier}
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer.id,
            "client_reference_id": str(user.pk),
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
            "line_items": [{"price": price.id, "quantity": 1}],
            # Schools need proper invoices: their address and VAT/tax number.
            "billing_address_collection": "required",
            "tax_id_collection": {"enabled": True},
            "customer_update": {"address": "auto", "name": "auto"},
            "locale": user_language(user),
            "success_url": absolute(reverse("billing_checkout_success")) + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": absolute(reverse("billing_checkout_cancel")),
        }
        if settings.BILLING_AUTOMATIC_TAX:
            params["automatic_tax"] = {"enabled": True}
        session = stripe.checkout.Session.create(**params, **stripe_kwargs())
    return session["url"]


def billing_portal_session_create(*, user: User) -> str:
    """A Customer Portal session for the user's own Stripe customer; returns its URL."""
    _enabled_check()
    customer = Customer.objects.filter(subscriber=user, livemode=livemode()).first()
    if customer is None:
        raise BillingError(_("Vous n'avez pas encore d'abonnement : choisissez une offre."))
    with stripe_call():
        session = stripe.billing_portal.Session.create(
            customer=customer.id,
            return_url=absolute(reverse("billing_invoices")),
            locale=user_language(user),
            **stripe_kwargs(),
        )
    return session["url"]
