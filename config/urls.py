from __future__ import annotations

from django.contrib import admin
from django.contrib.staticfiles.storage import staticfiles_storage
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView

from accounts import views as account_views
from core import views as core_views
from public import views as public_views

urlpatterns = [
    path("health", core_views.health, name="health"),
    # Browsers ask for /favicon.ico wherever a page does not name its icon (the admin, files).
    path("favicon.ico", RedirectView.as_view(url=lazy(staticfiles_storage.url, str)("favicon.svg"), permanent=True)),
    path("metrics", core_views.metrics, name="metrics"),
    path("i18n/setlang/", account_views.language_set, name="set_language"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("settings/", include("accounts.urls")),
    path("usage/", include("usage.urls")),
    path("billing/", include("billing.urls")),
    path("schools/", include("schools.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("api/", include("config.api_urls")),
    path("classes/", include("rosters.urls")),
    # `/` is the front page for a visitor and the dashboard for a signed-in teacher.
    path("", public_views.home, name="dashboard"),
    path("", include("public.urls")),
    path("", include("grading.urls")),
]
