"""Billing services: Stripe customers, Checkout and portal sessions, subscription → tier.

The tier and period of a teacher always follow the *current* state of their Stripe
subscriptions, retrieved by id: webhook payloads only tell us which subscription to look
at, never what it looks like (events arrive late, twice, or out of order).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from djstripe.models import Customer, Invoice, Price, Product, Subscription
from djstripe.settings import djstripe_settings

from accounts.models import User
from accounts.services import user_email_send, user_language
from core.errors import ApplicationError
from usage.selectors import Tier
from usage.services import usage_plan_set

from .models import PaymentFailureNotice
from .plans import PLANS, Plan
from .selectors import subscription_governing, subscription_tier_and_period

logger = logging.getLogger(__name__)

USER_ID_KEY = "corrigo_user_id"


class BillingError(ApplicationError):
    """Billing cannot do what was asked (plan missing at Stripe, no customer, Stripe down)."""


@contextmanager
def _stripe_call() -> Iterator[None]:
    """Stripe unreachable or refusing: a message for the teacher, the details in the log."""
    try:
        yield
    except stripe.StripeError as exc:
        logger.warning("Stripe call failed: %s", exc)
        raise BillingError(_("Le service de paiement ne répond pas. Réessayez dans un instant.")) from exc


def _stripe_kwargs() -> dict:
    return {"api_key": djstripe_settings.STRIPE_SECRET_KEY, "stripe_version": djstripe_settings.STRIPE_API_VERSION}


def _livemode() -> bool:
    return bool(djstripe_settings.STRIPE_LIVE_MODE)


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


# --- Plans ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanSyncResult:
    tier: str
    product_id: str
    price_id: str
    created_product: bool
    created_price: bool


def _product_ensure(plan: Plan) -> tuple[stripe.Product, bool]:
    try:
        product = stripe.Product.retrieve(plan.product_id, **_stripe_kwargs())
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", None) != "resource_missing":
            raise
        product = stripe.Product.create(
            id=plan.product_id, name=plan.name, metadata={"corrigo_tier": plan.tier}, **_stripe_kwargs()
        )
        return product, True
    # Stripe objects are not dicts (stripe ≥ 15): read their fields from a plain copy.
    existing = product.to_dict()
    if existing.get("name") != plan.name or not existing.get("active", True):
        product = stripe.Product.modify(
            plan.product_id, name=plan.name, active=True, metadata={"corrigo_tier": plan.tier}, **_stripe_kwargs()
        )
    return product, False


def _price_matches(price: dict[str, Any], plan: Plan) -> bool:
    recurring = price.get("recurring") or {}
    return (
        price.get("unit_amount") == plan.unit_amount
        and price.get("currency") == plan.currency
        and recurring.get("interval") == plan.interval
        and price.get("product") == plan.product_id
        and price.get("active", True)
    )


def billing_plans_sync() -> list[PlanSyncResult]:
    """Creates or corrects each plan's Product and Price in Stripe, then syncs them locally.

    Idempotent: a second run creates nothing. A changed amount creates a new Price that
    takes over the lookup_key (Stripe Prices are immutable) and archives the old one.
    """
    results = []
    for plan in PLANS.values():
        product, created_product = _product_ensure(plan)
        found = stripe.Price.list(lookup_keys=[plan.lookup_key], limit=1, **_stripe_kwargs())
        current = found.data[0] if found.data else None
        created_price = False
        if current is None or not _price_matches(current.to_dict(), plan):
            price = stripe.Price.create(
                product=plan.product_id,
                unit_amount=plan.unit_amount,
                currency=plan.currency,
                recurring={"interval": plan.interval},
                lookup_key=plan.lookup_key,
                transfer_lookup_key=True,
                nickname=plan.name,
                metadata={"corrigo_tier": plan.tier},
                tax_behavior="inclusive",
                **_stripe_kwargs(),
            )
            created_price = True
            if current is not None and current.to_dict().get("active", True):
                stale = stripe.Price.modify(current["id"], active=False, **_stripe_kwargs())
                Price.sync_from_stripe_data(stale, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        else:
            price = current
        Product.sync_from_stripe_data(product, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        Price.sync_from_stripe_data(price, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        results.append(PlanSyncResult(plan.tier, product["id"], price["id"], created_product, created_price))
    return results


def _price_for(plan: Plan) -> Price:
    price = Price.objects.filter(lookup_key=plan.lookup_key, active=True).order_by("-created").first()
    if price is not None:
        return price
    found = stripe.Price.list(lookup_keys=[plan.lookup_key], active=True, limit=1, **_stripe_kwargs())
    if not found.data:
        logger.error("No Stripe price with lookup_key %r: run billing_plans_sync.", plan.lookup_key)
        raise BillingError(_("Cette offre n'est pas disponible pour le moment."))
    return Price.sync_from_stripe_data(found.data[0], api_key=djstripe_settings.STRIPE_SECRET_KEY)


# --- Customers, Checkout, portal -------------------------------------------------------


def billing_customer_get_or_create(*, user: User) -> Customer:
    customer, _created = Customer.get_or_create(
        subscriber=user, livemode=_livemode(), metadata={USER_ID_KEY: str(user.pk)}
    )
    return customer


def _enabled_check() -> None:
    # The views show their "billing is off" page first; this guards every other caller.
    if not settings.BILLING_ENABLED:
        raise BillingError(_("La facturation est désactivée sur ce serveur."))


def billing_checkout_start(*, user: User, tier: str) -> str:
    """Where to send a teacher who chose the paid `tier`: Stripe Checkout for a first
    subscription; the Customer Portal for a subscriber, who changes plan there (prorated),
    never with a second subscription."""
    _enabled_check()
    if subscription_tier_and_period(subscription_governing(user=user))[0] != Tier.FREE:
        return billing_portal_session_create(user=user)
    return billing_checkout_session_create(user=user, tier=tier)


def billing_checkout_session_create(*, user: User, tier: str) -> str:
    """Creates a subscription Checkout Session for `tier`; returns the URL to send the user to."""
    _enabled_check()
    plan = PLANS.get(tier)
    if plan is None:
        raise BillingError(_("Cette offre n'est pas disponible pour le moment."))
    with _stripe_call():
        price = _price_for(plan)
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
            "success_url": _absolute(reverse("billing_checkout_success")) + "?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": _absolute(reverse("billing_checkout_cancel")),
        }
        if settings.BILLING_AUTOMATIC_TAX:
            params["automatic_tax"] = {"enabled": True}
        session = stripe.checkout.Session.create(**params, **_stripe_kwargs())
    return session["url"]


def billing_portal_session_create(*, user: User) -> str:
    """A Customer Portal session for the user's own Stripe customer; returns its URL."""
    _enabled_check()
    customer = Customer.objects.filter(subscriber=user, livemode=_livemode()).first()
    if customer is None:
        raise BillingError(_("Vous n'avez pas encore d'abonnement : choisissez une offre."))
    with _stripe_call():
        session = stripe.billing_portal.Session.create(
            customer=customer.id,
            return_url=_absolute(reverse("billing_invoices")),
            locale=user_language(user),
            **_stripe_kwargs(),
        )
    return session["url"]


# --- Subscription state → tier ---------------------------------------------------------


def _user_from_metadata(metadata: dict[str, Any] | None) -> User | None:
    user_id = (metadata or {}).get(USER_ID_KEY)
    if not user_id:
        return None
    return User.objects.filter(pk=user_id).first()


def _customer_link(customer: Customer | None, user: User) -> None:
    if customer is not None and user is not None and customer.subscriber_id is None:
        customer.subscriber = user
        customer.save(update_fields=["subscriber"])


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
    data = stripe.Subscription.retrieve(subscription_id, **_stripe_kwargs())
    subscription = Subscription.sync_from_stripe_data(data, api_key=djstripe_settings.STRIPE_SECRET_KEY)
    customer = subscription.customer
    user = user or (customer.subscriber if customer else None) or _user_from_metadata(data.to_dict().get("metadata"))
    if user is None:
        logger.warning("Subscription %s has no Corrigo user", subscription_id)
        return None
    _customer_link(customer, user)
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
        _customer_link(Customer.objects.filter(id=customer_id).first(), user)
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


def billing_payment_failure_notify(*, invoice_id: str) -> bool:
    """Emails the teacher once per failed attempt of an invoice still unpaid. True if sent."""
    invoice = Invoice.objects.filter(id=invoice_id).select_related("customer__subscriber").first()
    if invoice is None or invoice.customer is None:
        return False
    data = invoice.stripe_data
    user = invoice.customer.subscriber
    # The invoice was synced from Stripe just now: if it is paid or void meanwhile, the
    # failure is history and an alarm would be wrong.
    if user is None or data.get("status") != "open":
        return False
    try:
        with transaction.atomic():
            PaymentFailureNotice.objects.create(
                user=user, invoice_id=invoice_id, attempt_count=data.get("attempt_count") or 0
            )
    except IntegrityError:
        return False
    context = {
        "amount": (data.get("amount_due") or 0) / 100,
        "currency": (data.get("currency") or "eur").upper(),
        "hosted_invoice_url": data.get("hosted_invoice_url") or "",
        "billing_url": _absolute(reverse("billing_invoices")),
    }
    transaction.on_commit(
        lambda: user_email_send(user=user, template_name="billing/email/payment_failed.txt", context=context)
    )
    return True


__all__ = [
    "BillingError",
    "billing_checkout_completed",
    "billing_checkout_start",
    "billing_checkout_session_create",
    "billing_customer_get_or_create",
    "billing_payment_failure_notify",
    "billing_plans_sync",
    "billing_portal_session_create",
    "billing_subscription_sync",
    "billing_user_tier_apply",
]
