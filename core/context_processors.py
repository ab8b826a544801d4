from __future__ import annotations

from django.conf import settings


def site(request):
    return {
        "SITE_URL": settings.SITE_URL,
        "DEMO_MODE": getattr(settings, "CORRIGO_DEMO_MODE", False),
        "BILLING_ENABLED": getattr(settings, "BILLING_ENABLED", False),
    }
