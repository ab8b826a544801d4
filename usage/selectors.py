"""Reads for pages, the API and the admin: the usage bar, period summaries, ledger queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.apps import apps
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.template.loader import render_to_string
from django.utils import translation

from .models import UsageRecord
from .services import COST_FIELDS, TOKEN_FIELDS, UsageSummary, usage_exam_cost, usage_summary

# Colour bands of the bar (share of the allowance used or held by running jobs).
AMBER_FROM = 0.70
RED_ABOVE = 0.90


@dataclass(frozen=True)
class UsageBar:
    summary: UsageSummary
    percent: int  # 0–100, for the <meter> and its label
    level: str  # "violet" | "amber" | "red"

    @property
    def almost_full(self) -> bool:
        return self.level == "red"


def usage_bar_get(*, user) -> UsageBar:
    summary = usage_summary(user=user)
    ratio = summary.ratio
    if ratio > RED_ABOVE:
        level = "red"
    elif ratio >= AMBER_FROM:
        level = "amber"
    else:
        level = "violet"
    return UsageBar(summary=summary, percent=min(int(ratio * 100), 100), level=level)


def usage_bar_html(*, user, oob: bool = False, language: str | None = None) -> str:
    """The bar's HTML (root id="usage-bar"). `oob=True` adds hx-swap-oob="true" for a swap pushed
    over the websocket when a job finishes; `language` renders outside a request (a worker)."""
    context = {"bar": usage_bar_get(user=user), "oob": oob}
    if language:
        with translation.override(language):
            return render_to_string("usage/bar.html", context)
    return render_to_string("usage/bar.html", context)


def usage_exam_owned(*, user, exam_id: int) -> bool:
    """Whether `user` owns the exam. Resolved through the app registry: usage sits below grading
    and must not import its code, and an exam without any ledger row yet still has an owner."""
    exam_model = apps.get_model("grading", "Exam")
    return exam_model.objects.filter(pk=exam_id, owner=user).exists()


def usage_exam_cost_get(*, user, exam_id: int) -> dict | None:
    """The exam's cost breakdown (JSON shape), or None when the exam is not the user's (or does not exist)."""
    if not usage_exam_owned(user=user, exam_id=exam_id):
        return None
    return usage_exam_cost_json(exam_id=exam_id)


def money_str(value: Decimal) -> str:
    """A Decimal USD amount as a JSON string: every decimal kept, no exponent, "0" for zero."""
    return format(value.normalize(), "f") if value else "0"


def _breakdown_json(values: dict) -> dict:
    return {**{f: money_str(values[f]) for f in COST_FIELDS}, **{f: values[f] for f in TOKEN_FIELDS}}


def usage_exam_cost_json(*, exam_id: int) -> dict:
    """The exam's cost breakdown for JSON (API, export): {currency, phases: {phase: {…}}, total: {…}};
    costs as Decimal strings (USD), token counts as integers. No ownership check: callers have one."""
    breakdown = usage_exam_cost(exam_id=exam_id)
    return {
        "currency": "USD",
        "phases": {phase: _breakdown_json(values) for phase, values in breakdown["phases"].items()},
        "total": _breakdown_json(breakdown["total"]),
    }


def usage_by_user_month(*, start: datetime | None = None, end: datetime | None = None):
    """Rows {user__email, month, calls, tokens, cost} for the admin report, newest month first."""
    records = UsageRecord.objects.all()
    if start is not None:
        records = records.filter(created_at__gte=start)
    if end is not None:
        records = records.filter(created_at__lt=end)
    return (
        records.annotate(month=TruncMonth("created_at"))
        .values("user_id", "user__email", "month")
        .annotate(calls=Count("id"), tokens=Sum("total_tokens"), cost=Sum("total_cost"), savings=Sum("savings"))
        .order_by("-month", "-cost")
    )


def usage_top_spenders(*, start: datetime | None = None, end: datetime | None = None, limit: int = 20):
    records = UsageRecord.objects.all()
    if start is not None:
        records = records.filter(created_at__gte=start)
    if end is not None:
        records = records.filter(created_at__lt=end)
    return (
        records.values("user_id", "user__email")
        .annotate(calls=Count("id"), tokens=Sum("total_tokens"), cost=Sum("total_cost"))
        .order_by("-cost", "-tokens")[:limit]
    )
