from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_prometheus.exports import ExportToDjangoView

from .health import health_status


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = health_status()
    ok = all(state == "up" for state in checks.values())
    return JsonResponse({"status": "ok" if ok else "degraded", **checks}, status=200 if ok else 503)


def _metrics_allowed(request: HttpRequest) -> bool:
    if request.user.is_authenticated and request.user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    auth = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(auth, f"Bearer {token}")


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics for staff or a scraper holding METRICS_TOKEN; 404 to anyone else."""
    if not _metrics_allowed(request):
        raise Http404
    return ExportToDjangoView(request)
