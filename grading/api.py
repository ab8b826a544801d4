"""Read API for a teacher's own exams (DRF). Every lookup is scoped to request.user: 404 otherwise."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.http import api_user
from usage.selectors import money_str, usage_exam_cost_json, usd_to_eur

from . import exports, selectors

if TYPE_CHECKING:
    from .selectors.lookups import DashboardExam


def _exam_summary(exam: DashboardExam, average: Decimal | None) -> dict[str, Any]:
    return {
        "id": exam.pk,
        "title": exam.title,
        "subject": exam.subject,
        "level": exam.level,
        "status": exam.status,
        "mode": exam.mode,
        "copies": exam.copies_count,
        "average": str(average.quantize(Decimal("0.01"))) if average is not None else None,
        "bareme_total": str(exam.bareme_total),
        "cost_usd": str(exam.cost),
        "cost_eur": money_str(usd_to_eur(exam.cost or Decimal(0))),
        "created_at": exam.created_at.isoformat(),
    }


@api_view(["GET"])
def exam_list(request: Request) -> Response:
    exams = selectors.exams_for_dashboard(user=request.user, status=request.query_params.get("status", ""))[:200]
    return Response({"results": [_exam_summary(exam, selectors.exam_average(exam)) for exam in exams]})


@api_view(["GET"])
def exam_grades(request: Request, pk: int) -> Response:
    """The exam's grades with the engine's audit and every teacher edit (the JSON export)."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    return Response(exports.exam_json(exam=exam))


@api_view(["GET"])
def exam_cost(request: Request, pk: int) -> Response:
    """What the teacher spent on their exam, per phase (their own ledger rows)."""
    user = api_user(request)
    exam = selectors.exam_get(user=user, pk=pk)
    return Response({"exam": exam.pk, **usage_exam_cost_json(exam_id=exam.pk, user=user)})
