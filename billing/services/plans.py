"""The plans' Products and Prices at Stripe, created or corrected from billing.plans."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.utils.translation import gettext as _
from djstripe.models import Price, Product
from djstripe.settings import djstripe_settings

from ..plans import PLANS, Plan
from .base import BillingError, stripe_kwargs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlanSyncResult:
    tier: str
    product_id: str
    price_id: str
    created_product: bool
    created_price: bool


def _product_ensure(plan: Plan) -> tuple[stripe.Product, bool]:
    try:
        product = stripe.Product.retrieve(plan.product_id, **stripe_kwargs())
    except stripe.InvalidRequestError as exc:
        if getattr(exc, "code", None) != "resource_missing":
            raise
        product = stripe.Product.create(
            id=plan.product_id, name=plan.name, metadata={"corrigo_tier": plan.tier}, **stripe_kwargs()
        )
        return product, True
    # Stripe objects are not dicts (stripe ≥ 15): read their fields from a plain copy.
    existing = product.to_dict()
    if existing.get("name") != plan.name or not existing.get("active", True):
        product = stripe.Product.modify(
            plan.product_id, name=plan.name, active=True, metadata={"corrigo_tier": plan.tier}, **stripe_kwargs()
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
        found = stripe.Price.list(lookup_keys=[plan.lookup_key], limit=1, **stripe_kwargs())
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
                **stripe_kwargs(),
            )
            created_price = True
            if current is not None and current.to_dict().get("active", True):
                stale = stripe.Price.modify(current["id"], active=False, **stripe_kwargs())
                Price.sync_from_stripe_data(stale, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        else:
            price = current
        Product.sync_from_stripe_data(product, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        Price.sync_from_stripe_data(price, api_key=djstripe_settings.STRIPE_SECRET_KEY)
        results.append(PlanSyncResult(plan.tier, product["id"], price["id"], created_product, created_price))
    return results


def price_for(plan: Plan) -> Price:
    price = Price.objects.filter(lookup_key=plan.lookup_key, active=True).order_by("-created").first()
    if price is not None:
        return price
    found = stripe.Price.list(lookup_keys=[plan.lookup_key], active=True, limit=1, **stripe_kwargs())
    if not found.data:
        logger.error("No Stripe price with lookup_key %r: run billing_plans_sync.", plan.lookup_key)
        raise BillingError(_("Cette offre n'est pas disponible pour le moment."))
    return Price.sync_from_stripe_data(found.data[0], api_key=djstripe_settings.STRIPE_SECRET_KEY)
