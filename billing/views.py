from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import School
from core.errors import ApplicationError
from core.http import HtmxHttpRequest
from usage.selectors import usage_summary

from . import selectors, services
from .plans import PLANS, plan_rows


def _disabled(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "billing/disabled.html")


def _refused(request: HtmxHttpRequest, error: ApplicationError) -> HttpResponse:
    messages.error(request, error.message)
    return redirect("billing_pricing")


@require_GET
def pricing(request: HtmxHttpRequest) -> HttpResponse:
    summary = usage_summary(user=request.user) if request.user.is_authenticated else None
    return render(
        request,
        "billing/pricing.html",
        {
            "rows": plan_rows(),
            "current_tier": summary.tier if summary else None,
            # A school's teacher is offered no checkout: the school pays (accounts.School).
            "school": summary.school if summary else "",
            "school_contact": summary.school_contact if summary else "",
            "billing_enabled": settings.BILLING_ENABLED,
        },
    )


@require_POST
@login_required
def checkout(request: AuthenticatedHttpRequest, tier: str) -> HttpResponse:
    if not settings.BILLING_ENABLED:
        return _disabled(request)
    if tier not in PLANS:
        raise Http404
    try:
        url = services.billing_checkout_start(user=request.user, tier=tier)
    except ApplicationError as error:
        return _refused(request, error)
    return HttpResponseRedirect(url, status=303)


@require_GET
@login_required
def checkout_success(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "billing/checkout_success.html")


@require_GET
@login_required
def checkout_cancel(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "billing/checkout_cancel.html")


@require_POST
@login_required
def portal(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not settings.BILLING_ENABLED:
        return _disabled(request)
    try:
        url = services.billing_portal_session_create(user=request.user)
    except ApplicationError as error:
        return _refused(request, error)
    return HttpResponseRedirect(url, status=303)


@require_GET
@login_required
def invoices(request: AuthenticatedHttpRequest) -> HttpResponse:
    summary = usage_summary(user=request.user)
    tier = summary.tier
    return render(
        request,
        "billing/invoices.html",
        {
            "school": summary.school,
            "invoices": selectors.billing_invoices(user=request.user),
            "status": selectors.billing_status(user=request.user, tier=tier),
            "billing_enabled": settings.BILLING_ENABLED,
        },
    )


@require_GET
@login_required
def invoice_open(request: AuthenticatedHttpRequest, invoice_id: str) -> HttpResponse:
    row = selectors.billing_invoice_for_user(user=request.user, invoice_id=invoice_id)
    if row is None or not row.hosted_invoice_url:
        raise Http404
    return HttpResponseRedirect(row.hosted_invoice_url)


def _school_for_admin(request: AuthenticatedHttpRequest, pk: int) -> School:
    school = School.objects.filter(pk=pk, admins=request.user).first()
    if school is None:
        raise Http404
    return school


@require_POST
@login_required
def school_checkout(request: AuthenticatedHttpRequest, pk: int, tier: str) -> HttpResponse:
    """The school admin subscribes the school to `tier` for the `seats` teachers they name."""
    school = _school_for_admin(request, pk)
    if not settings.BILLING_ENABLED:
        return _disabled(request)
    if tier not in PLANS:
        raise Http404
    seats = request.POST.get("seats", "").strip()
    try:
        url = services.billing_school_checkout_start(
            school=school, admin=request.user, tier=tier, seats=int(seats) if seats.isdigit() else 0
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("school_detail", pk=school.pk)
    return HttpResponseRedirect(url, status=303)


@require_POST
@login_required
def school_portal(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    school = _school_for_admin(request, pk)
    if not settings.BILLING_ENABLED:
        return _disabled(request)
    try:
        url = services.billing_school_portal_session_create(school=school, admin=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("school_detail", pk=school.pk)
    return HttpResponseRedirect(url, status=303)
