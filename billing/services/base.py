"""What every billing service shares: the error, Stripe's call settings, absolute URLs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import stripe
from django.conf import settings
from django.utils.translation import gettext as _
from djstripe.settings import djstripe_settings

from core.errors import ApplicationError

logger = logging.getLogger(__name__)

USER_ID_KEY = "corrigo_user_id"


class BillingError(ApplicationError):
    """Billing cannot do what was asked (plan missing at Stripe, no customer, Stripe down)."""


@contextmanager
def stripe_call() -> Iterator[None]:
    """Stripe unreachable or refusing: a message for the teacher, the details in the log."""
    try:
        yield
    except stripe.StripeError as exc:
        logger.warning("Stripe call failed: %s", exc)
        raise BillingError(_("Le service de paiement ne répond pas. Réessayez dans un instant.")) from exc


def stripe_kwargs() -> dict:
    return {"api_key": djstripe_settings.STRIPE_SECRET_KEY, "stripe_version": djstripe_settings.STRIPE_API_VERSION}


def livemode() -> bool:
    return bool(djstripe_settings.STRIPE_LIVE_MODE)


def absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path
