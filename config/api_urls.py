"""The JSON API (DRF): each app contributes its `api_urls`."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("usage.api_urls")),
    path("", include("billing.api_urls")),
    path("", include("grading.api_urls")),
]
