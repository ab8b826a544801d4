"""JSON API: the signed-in user's usage (an exam's cost is grading's api/exams/<id>/cost/)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.http import api_user

from .selectors import money_str, usage_summary


@api_view(["GET"])
def usage_detail(request: Request) -> Response:
    summary = usage_summary(user=api_user(request))
    return Response(
        {
            "tier": summary.tier,
            "tokens_used": summary.tokens_used,
            "reserved": summary.reserved,
            "limit": summary.limit,
            "remaining": summary.remaining,
            "has_monthly_reset": summary.has_monthly_reset,
            "period_start": summary.period_start.isoformat() if summary.period_start else None,
            "period_end": summary.period_end.isoformat() if summary.period_end else None,
            "cost": money_str(summary.cost),
            "currency": "USD",
            "cost_eur": money_str(summary.cost_eur),
            "usd_eur_rate": money_str(settings.USD_EUR_RATE),
            # Typical copies (4 pages, double correction): the unit the pages show.
            "copies_remaining": summary.copies_left,
            "copies_limit": summary.copies_limit,
        }
    )
