"""JSON API: the signed-in user's usage and an exam's cost breakdown (owner only)."""

from __future__ import annotations

from django.http import Http404
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from .selectors import money_str, usage_exam_cost_get
from .services import usage_summary


@api_view(["GET"])
def usage_detail(request: Request) -> Response:
    summary = usage_summary(user=request.user)
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
        }
    )


@api_view(["GET"])
def exam_cost(request: Request, exam_id: int) -> Response:
    breakdown = usage_exam_cost_get(user=request.user, exam_id=exam_id)
    if breakdown is None:
        raise Http404
    return Response({"exam": exam_id, **breakdown})
