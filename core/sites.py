"""The Sites framework's one site, named after SITE_URL.

allauth writes the site's domain and name into its emails ("… an account on example.com"):
Django creates the site as example.com and nothing else would ever change it. Every `migrate`
(each deployment runs it) sets it from SITE_URL again, so a changed address follows.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.apps import apps as global_apps
from django.conf import settings

SITE_NAME = "Corrigo"


def site_domain() -> str:
    """SITE_URL's host (and port, when it has one): "https://corrigo.example.org" → "corrigo.example.org"."""
    return urlsplit(settings.SITE_URL).netloc or settings.SITE_URL


def site_sync(*, using: str = "default", apps: Any = global_apps, **kwargs: Any) -> None:
    """post_migrate receiver of the sites app: the current site takes SITE_URL's domain and
    Corrigo's name (created here if django.contrib.sites has not made it yet)."""
    try:
        site_model = apps.get_model("sites", "Site")
    except LookupError:  # a migration plan that stops before the sites app
        return
    site_model.objects.using(using).update_or_create(
        pk=settings.SITE_ID, defaults={"domain": site_domain()[:100], "name": SITE_NAME}
    )
    from django.contrib.sites.models import SITE_CACHE

    SITE_CACHE.clear()
