"""Billing selectors: read the dj-stripe tables, never call Stripe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from djstripe.models import Invoice, Subscription

from accounts.models import School, User
from usage.selectors import Tier, tier_label

from .models import SchoolCustomer
from .plans import TIER_RANK, tier_for_price

# Statuses in which the teacher keeps the tier they pay for. past_due keeps it (with a
# banner) while Stripe retries; unpaid, canceled, incomplete(_expired), paused → FREE.
LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
# Statuses that call for the "update your payment method" banner.
PAYMENT_PROBLEM_STATUSES = frozenset({"past_due", "unpaid", "incomplete"})


def _timestamp(value) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _items(data: dict) -> list[dict]:
    items = data.get("items") or {}
    return list(items.get("data") or [])


def subscription_tier_and_period(subscription: Subscription | None) -> tuple[str, datetime | None, datetime | None]:
    """(tier, period start, period end) a subscription grants right now."""
    if subscription is None:
        return Tier.FREE, None, None
    data = subscription.stripe_data or {}
    if data.get("status") not in LIVE_STATUSES:
        return Tier.FREE, None, None
    tier, start, end = None, None, None
    for item in _items(data):
        item_tier = tier_for_price(item.get("price"))
        if item_tier and (tier is None or TIER_RANK[item_tier] > TIER_RANK[tier]):
            tier = item_tier
            # Since API 2025-03-31 the billing period lives on the subscription items.
            start = _timestamp(item.get("current_period_start") or data.get("current_period_start"))
            end = _timestamp(item.get("current_period_end") or data.get("current_period_end"))
    if tier is None:
        return Tier.FREE, None, None
    return tier, start, end


def subscription_quantity(subscription: Subscription | None) -> int:
    """The quantity of the item that grants the subscription's tier (a school's seats); 0 when
    it grants none."""
    tier = subscription_tier_and_period(subscription)[0]
    if subscription is None or tier == Tier.FREE:
        return 0
    items = [item for item in _items(subscription.stripe_data or {}) if tier_for_price(item.get("price")) == tier]
    return max(int(item.get("quantity") or 0) for item in items)


def _subscriptions(user: User) -> QuerySet[Subscription]:
    return Subscription.objects.filter(customer__subscriber=user).select_related("customer")


def school_subscriptions(*, school: School) -> QuerySet[Subscription]:
    """The subscriptions of the school's Stripe customers (billing.models.SchoolCustomer)."""
    customers = SchoolCustomer.objects.filter(school=school).values("customer_id")
    return Subscription.objects.filter(customer__id__in=customers).select_related("customer")


def subscription_governing(*, user: User) -> Subscription | None:
    """The subscription that decides the user's tier: the best live one, else the latest."""
    return _governing(_subscriptions(user))


def school_subscription_governing(*, school: School) -> Subscription | None:
    """The subscription that decides the school's plan, by the teacher's rule (subscription_governing)."""
    return _governing(school_subscriptions(school=school))


def _governing(queryset: QuerySet[Subscription]) -> Subscription | None:
    subscriptions = list(queryset)
    live = [s for s in subscriptions if (s.stripe_data or {}).get("status") in LIVE_STATUSES]
    if live:
        return max(
            live,
            key=lambda s: (TIER_RANK[subscription_tier_and_period(s)[0]], (s.stripe_data or {}).get("created") or 0),
        )
    if subscriptions:
        return max(subscriptions, key=lambda s: ((s.stripe_data or {}).get("created") or 0, s.djstripe_id))
    return None


@dataclass(frozen=True)
class BillingStatus:
    enabled: bool
    tier: str
    subscription_id: str | None
    status: str | None
    period_start: datetime | None
    period_end: datetime | None
    cancel_at_period_end: bool

    @property
    def tier_label(self) -> str:
        return tier_label(self.tier)

    @property
    def payment_problem(self) -> bool:
        return self.status in PAYMENT_PROBLEM_STATUSES

    def as_dict(self) -> dict:
        return {
            "billing_enabled": self.enabled,
            "tier": self.tier,
            "subscription_id": self.subscription_id,
            "status": self.status,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
            "cancel_at_period_end": self.cancel_at_period_end,
        }


def billing_status(*, user: User, tier: str) -> BillingStatus:
    """`tier` is the usage allowance's tier: the source of truth, even when set by hand."""
    subscription = subscription_governing(user=user) if settings.BILLING_ENABLED else None
    data = subscription.stripe_data if subscription is not None else {}
    _tier, start, end = subscription_tier_and_period(subscription)
    return BillingStatus(
        enabled=settings.BILLING_ENABLED,
        tier=tier,
        subscription_id=subscription.id if subscription is not None else None,
        status=data.get("status"),
        period_start=start,
        period_end=end,
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
    )


def billing_payment_problem(*, user: User | AnonymousUser) -> bool:
    """Whether the user's subscription waits for a payment (drives the banner)."""
    if not settings.BILLING_ENABLED or not user.is_authenticated:
        return False
    subscription = subscription_governing(user=user)
    return subscription is not None and (subscription.stripe_data or {}).get("status") in PAYMENT_PROBLEM_STATUSES


@dataclass(frozen=True)
class InvoiceRow:
    id: str
    number: str
    created: datetime | None
    amount: float
    currency: str
    status: str
    invoice_pdf: str
    hosted_invoice_url: str


def _invoice_amount(data: dict[str, Any]) -> float:
    """What the invoice bills (its total; amount_due on payloads without one), in currency units."""
    total = data.get("total")
    return (total if total is not None else data.get("amount_due") or 0) / 100


def billing_invoices(*, user: User) -> list[InvoiceRow]:
    """The user's own invoices, newest first."""
    rows = []
    for invoice in Invoice.objects.filter(customer__subscriber=user).order_by("-created", "-djstripe_id"):
        data = invoice.stripe_data or {}
        if data.get("status") == "draft":
            continue
        rows.append(
            InvoiceRow(
                id=invoice.id,
                number=data.get("number") or "",
                created=_timestamp(data.get("created")),
                amount=_invoice_amount(data),
                currency=(data.get("currency") or "eur").upper(),
                status=data.get("status") or "",
                invoice_pdf=data.get("invoice_pdf") or "",
                hosted_invoice_url=data.get("hosted_invoice_url") or "",
            )
        )
    return rows


def billing_invoice_for_user(*, user: User, invoice_id: str) -> InvoiceRow | None:
    return next((row for row in billing_invoices(user=user) if row.id == invoice_id), None)


def school_billing_status(*, school: School) -> BillingStatus:
    """The school's subscription as its admin's page shows it; the tier is the school's own."""
    subscription = school_subscription_governing(school=school) if settings.BILLING_ENABLED else None
    data = subscription.stripe_data if subscription is not None else {}
    _tier, start, end = subscription_tier_and_period(subscription)
    return BillingStatus(
        enabled=settings.BILLING_ENABLED,
        tier=school.tier or Tier.FREE,
        subscription_id=subscription.id if subscription is not None else None,
        status=data.get("status"),
        period_start=start,
        period_end=end,
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
    )
