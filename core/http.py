"""Typed requests for views (django-htmx's example): mypy then knows `request.htmx`."""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """Every request, since HtmxMiddleware runs for all of them."""

    htmx: HtmxDetails
