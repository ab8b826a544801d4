from __future__ import annotations

import logging

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from usage.services import usage_summary
from usage.tiers import TIER_LIMITS, Tier

from . import selectors, services
from .plans import PLANS

logger = logging.getLogger(__name__)


def _disabled(request):
    return render(request, "billing/disabled.html")


def _stripe_failed(request, exc: Exception):
    logger.warning("Stripe call failed: %s", exc)
    messages.error(request, _("Le service de paiement ne répond pas. Réessayez dans un instant."))
    return redirect("billing_pricing")


@require_GET
def pricing(request):
    current = usage_summary(user=request.user).tier if request.user.is_authenticated else None
    rows = [{"tier": Tier.FREE, "label": Tier.FREE.label, "tokens": TIER_LIMITS[Tier.FREE], "plan": None}]
    rows += [{"tier": p.tier, "label": Tier(p.tier).label, "tokens": p.tokens, "plan": p} for p in PLANS.values()]
    return render(
        request,
        "billing/pricing.html",
        {"rows": rows, "current_tier": current, "billing_enabled": settings.BILLING_ENABLED},
    )


@require_POST
@login_required
def checkout(request, tier: str):
    if not settings.BILLING_ENABLED:
        return _disabled(request)
    if tier not in PLANS:
        raise Http404
    try:
        # A subscriber changes plan in the portal (prorated), not with a second subscription.
        if selectors.subscription_tier_and_period(selectors.subscription_governing(user=request.user))[0] != Tier.FREE:
            return HttpResponseRedirect(services.billing_portal_session_create(user=request.user), status=303)
        url = services.billing_checkout_session_create(user=request.user, tier=tier)
    except services.BillingError as exc:
        logger.error("Checkout impossible: %s", exc)
        messages.error(request, _("Cette offre n'est pas disponible pour le moment."))
        return redirect("billing_pricing")
    except stripe.StripeError as exc:
        return _stripe_failed(request, exc)
    return HttpResponseRedirect(url, status=303)


@require_GET
@login_required
def checkout_success(request):
    return render(request, "billing/checkout_success.html")


@require_GET
@login_required
def checkout_cancel(request):
    return render(request, "billing/checkout_cancel.html")


@require_POST
@login_required
def portal(request):
    if not settings.BILLING_ENABLED:
        return _disabled(request)
    try:
        url = services.billing_portal_session_create(user=request.user)
    except services.BillingError:
        messages.info(request, _("Vous n'avez pas encore d'abonnement : choisissez une offre."))
        return redirect("billing_pricing")
    except stripe.StripeError as exc:
        return _stripe_failed(request, exc)
    return HttpResponseRedirect(url, status=303)


@require_GET
@login_required
def invoices(request):
    tier = usage_summary(user=request.user).tier
    return render(
        request,
        "billing/invoices.html",
        {
            "invoices": selectors.billing_invoices(user=request.user),
            "status": selectors.billing_status(user=request.user, tier=tier),
            "billing_enabled": settings.BILLING_ENABLED,
        },
    )


@require_GET
@login_required
def invoice_open(request, invoice_id: str):
    row = selectors.billing_invoice_for_user(user=request.user, invoice_id=invoice_id)
    if row is None or not row.hosted_invoice_url:
        raise Http404
    return HttpResponseRedirect(row.hosted_invoice_url)
