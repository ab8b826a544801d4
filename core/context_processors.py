from __future__ import annotations

from django.conf import settings


def site(request):
    return {
        "SITE_URL": settings.SITE_URL,
        "DEMO_MODE": settings.CORRIGO_DEMO_MODE,
        "BILLING_ENABLED": settings.BILLING_ENABLED,
    }
