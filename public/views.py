"""The front page (the dashboard for a signed-in teacher), the privacy page, the legal notice."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest
from billing.plans import plan_rows
from core.http import HtmxHttpRequest
from grading.views.exams import dashboard

from .selectors import data_policy, operator


def _context() -> dict[str, Any]:
    return {"policy": data_policy(), "operator": operator()}


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """`/`: the teacher's dashboard once signed in; what Corrigo is for everyone else."""
    if request.user.is_authenticated:
        return dashboard(cast("AuthenticatedHttpRequest", request))
    return render(
        request,
        "public/home.html",
        {**_context(), "plans": plan_rows(), "billing_enabled": settings.BILLING_ENABLED},
    )


@require_GET
def privacy(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "public/privacy.html", {**_context(), "billing_enabled": settings.BILLING_ENABLED})


@require_GET
def legal_notice(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "public/legal.html", _context())
