"""JSON API: the signed-in user's usage and an exam's cost breakdown (owner only)."""

from __future__ import annotations

from decimal import Decimal

from django.http import Http404
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from .selectors import usage_exam_cost_get
from .services import COST_FIELDS, TOKEN_FIELDS, usage_summary


def _money(value: Decimal) -> str:
    # Strings keep every decimal; JSON floats would not.
    return format(value.normalize(), "f") if value else "0"


def _breakdown(values: dict) -> dict:
    return {
        **{f: _money(values[f]) for f in COST_FIELDS},
        **{f: values[f] for f in TOKEN_FIELDS},
    }


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
            "cost": _money(summary.cost),
            "currency": "USD",
        }
    )


@api_view(["GET"])
def exam_cost(request: Request, exam_id: int) -> Response:
    breakdown = usage_exam_cost_get(user=request.user, exam_id=exam_id)
    if breakdown is None:
        raise Http404
    return Response(
        {
            "exam": exam_id,
            "currency": "USD",
            "phases": {phase: _breakdown(values) for phase, values in breakdown["phases"].items()},
            "total": _breakdown(breakdown["total"]),
        }
    )
