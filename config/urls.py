from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views
from core import views as core_views

urlpatterns = [
    path("health", core_views.health, name="health"),
    path("metrics", core_views.metrics, name="metrics"),
    path("i18n/setlang/", account_views.language_set, name="set_language"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("settings/", include("accounts.urls")),
    path("usage/", include("usage.urls")),
    path("billing/", include("billing.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("api/", include("config.api_urls")),
    path("", include("grading.urls")),
]
