from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.http import AuthenticatedHttpRequest

from .selectors import usage_bar_get


@login_required
@require_GET
def usage_bar(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The usage bar alone, for HTMX refreshes (hx-get, or `HX-Trigger: usage-refresh`)."""
    return render(request, "usage/bar.html", {"bar": usage_bar_get(user=request.user), "oob": False})
