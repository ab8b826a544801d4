"""Billing services, one module per subject: plans at Stripe, customers (and the teacher each
belongs to), Checkout and portal sessions, subscription state → tier, payment-failure emails."""

from __future__ import annotations

from .base import USER_ID_KEY, BillingError
from .checkout import billing_checkout_session_create, billing_checkout_start, billing_portal_session_create
from .customers import billing_customer_get_or_create, customer_owner_set
from .notices import billing_payment_failure_notify
from .plans import PlanSyncResult, billing_plans_sync
from .schools import (
    SCHOOL_ID_KEY,
    SEATS_MAX,
    billing_school_checkout_start,
    billing_school_plan_apply,
    billing_school_portal_session_create,
)
from .subscriptions import (
    billing_checkout_completed,
    billing_customer_deleted,
    billing_subscription_sync,
    billing_user_tier_apply,
    invoice_subscription_id,
)

__all__ = [
    "SCHOOL_ID_KEY",
    "SEATS_MAX",
    "billing_school_checkout_start",
    "billing_school_plan_apply",
    "billing_school_portal_session_create",
    "USER_ID_KEY",
    "BillingError",
    "PlanSyncResult",
    "billing_checkout_completed",
    "billing_checkout_session_create",
    "billing_checkout_start",
    "billing_customer_deleted",
    "billing_customer_get_or_create",
    "billing_payment_failure_notify",
    "billing_plans_sync",
    "billing_portal_session_create",
    "billing_subscription_sync",
    "billing_user_tier_apply",
    "customer_owner_set",
    "invoice_subscription_id",
]
