"""Usage reads: periods, summaries, the usage bar, exam costs, ledger reports, prices.

With usage.services, this is the app's public surface: other apps import these two modules
only (an import-linter contract checks it). Reads never write: a user who never had an
Allowance row reads as FREE without one being created.

Accounting convention: the allowance counts every token a provider bills for a call, i.e.
`prompt_tokens + completion_tokens` where prompt_tokens includes cached and cache-write
tokens (see usage_record). A user's usage in a period is a SUM over the ledger; the tokens
held by running jobs are what their reservations still hold beyond what they already spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, DecimalField, Q, QuerySet, Subquery, Sum, Value
from django.db.models.expressions import OuterRef
from django.db.models.functions import Coalesce, TruncMonth
from django.template.loader import render_to_string

from accounts.models import User
from accounts.services import user_language_override

from .models import Reservation, UsageRecord
from .periods import month_start, usage_period
from .pools import allowance_pool, usage_school_by_teacher_month, usage_school_period
from .pricing import PriceCard, PriceMissing, price_card
from .tiers import CLASS_COPIES, TIER_LIMITS, TIER_RESETS, Tier, copies_in, tier_label, typical_copies_in

ZERO = Decimal(0)
COST_FIELDS = ("prompt_cost", "completion_cost", "cached_cost", "total_cost", "savings")
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "cached_read_tokens", "cache_write_tokens", "total_tokens")

# Colour bands of the bar (share of the allowance used or held by running jobs).
AMBER_FROM = 0.70
RED_ABOVE = 0.90


# --- What a user used and holds --------------------------------------------------------------


def usage_in_period(*, user: User, start: datetime | None, end: datetime | None) -> tuple[int, Decimal]:
    """(tokens, cost) of the user's ledger rows in [start, end); the whole ledger when start is None."""
    records = UsageRecord.objects.filter(user=user)
    if start is not None:
        records = records.filter(created_at__gte=start, created_at__lt=end)
    totals = records.aggregate(tokens=Sum("total_tokens"), cost=Sum("total_cost"))
    return totals["tokens"] or 0, totals["cost"] or ZERO


def usage_held(*, user: User) -> int:
    """Tokens still held by running jobs: each reservation minus what its job already spent."""
    held = Reservation.objects.filter(user=user, state=Reservation.State.HELD)
    held = held.annotate(spent=Sum("records__total_tokens"))
    return sum(max(r.tokens - (r.spent or 0), 0) for r in held)


def reservation_spent(reservation: Reservation) -> int:
    """Tokens the reservation's job has spent so far (its ledger rows)."""
    return reservation.records.aggregate(t=Sum("total_tokens"))["t"] or 0


@dataclass(frozen=True)
class UsageSummary:
    tier: str
    limit: int
    tokens_used: int
    reserved: int  # held by running jobs, not yet spent
    remaining: int
    has_monthly_reset: bool
    period_start: datetime | None
    period_end: datetime | None
    cost: Decimal
    # When a school pays (usage.pools): its name, and whom its teachers ask for more.
    school: str = ""
    school_contact: str = ""

    @property
    def committed(self) -> int:
        return self.tokens_used + self.reserved

    @property
    def ratio(self) -> float:
        """Share of the allowance used or held (what decides whether the next job fits), ≥ 0."""
        return (self.committed / self.limit) if self.limit else 1.0

    @property
    def tier_label(self) -> str:
        return tier_label(self.tier)

    @property
    def copies_left(self) -> int:
        """Typical copies (4 pages, double correction) the remaining allowance can grade."""
        return typical_copies_in(self.remaining)

    @property
    def copies_limit(self) -> int:
        """Typical copies the whole allowance grades."""
        return typical_copies_in(self.limit)

    @property
    def cost_eur(self) -> Decimal:
        return usd_to_eur(self.cost)


def usage_summary(*, user: User) -> UsageSummary:
    """The allowance the user spends now (their school's pool while a member: usage.pools)."""
    pool = allowance_pool(user=user)
    reserved = pool.held()
    used, cost = pool.used()
    school = pool.school
    contact = school.admins.order_by("pk").values_list("email", flat=True).first() if school else None
    return UsageSummary(
        tier=pool.tier,
        limit=pool.limit,
        tokens_used=used,
        reserved=reserved,
        remaining=max(pool.limit - used - reserved, 0),
        has_monthly_reset=pool.resets,
        period_start=pool.start,
        period_end=pool.end,
        cost=cost,
        school=school.name if school else "",
        school_contact=contact or "",
    )


# --- The usage bar ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageBar:
    summary: UsageSummary
    percent: int  # 0–100, for the <meter> and its label
    level: str  # "violet" | "amber" | "red"

    @property
    def almost_full(self) -> bool:
        return self.level == "red"


def usage_bar_get(*, user: User) -> UsageBar:
    summary = usage_summary(user=user)
    ratio = summary.ratio
    if ratio > RED_ABOVE:
        level = "red"
    elif ratio >= AMBER_FROM:
        level = "amber"
    else:
        level = "violet"
    return UsageBar(summary=summary, percent=min(int(ratio * 100), 100), level=level)


def usage_bar_html(*, user: User, oob: bool = False) -> str:
    """The bar's HTML (root id="usage-bar") in the user's language, for a swap pushed over the
    websocket when a job finishes (outside any request). `oob=True` adds hx-swap-oob="true"."""
    context = {"bar": usage_bar_get(user=user), "oob": oob}
    with user_language_override(user):
        return render_to_string("usage/bar.html", context)


# --- Costs -----------------------------------------------------------------------------------


def usage_exam_cost(*, exam_id: int, user: User | None = None) -> dict[str, Any]:
    """Cost breakdown of an exam, per phase and in total (Decimal USD, token counts).

    {"phases": {phase: {prompt_cost, completion_cost, cached_cost, total_cost, savings,
    …token fields}}, "total": {same keys}, "copies": how many copies had a grading call (a
    copy whose name was only read is not a graded one)}; phases in the order of Phase. With `user`, only
    that user's calls count: the ledger answers "what did I spend on this exam" without
    knowing who owns it (usage never reads grading's tables).
    """
    records = UsageRecord.objects.filter(exam_id=exam_id)
    if user is not None:
        records = records.filter(user=user)
    keys = (*COST_FIELDS, *TOKEN_FIELDS)
    rows = records.values("phase").annotate(**{f: Sum(f) for f in keys})
    by_phase = {row["phase"]: row for row in rows}
    phases = {}
    for phase in UsageRecord.Phase.values:
        if phase in by_phase:
            row = by_phase[phase]
            phases[phase] = {f: row[f] or (ZERO if f in COST_FIELDS else 0) for f in keys}
    total = {f: sum((p[f] for p in phases.values()), ZERO if f in COST_FIELDS else 0) for f in keys}
    graded = records.filter(copy__isnull=False, phase=UsageRecord.Phase.GRADING)
    copies = graded.values("copy_id").distinct().count()
    return {"phases": phases, "total": total, "copies": copies}


def usd_to_eur(value: Decimal) -> Decimal:
    """A provider cost (USD) in euros at the operator's rate (settings.USD_EUR_RATE)."""
    return value * settings.USD_EUR_RATE


def usage_reservation_total_cost(*, key: str) -> Decimal:
    """What the calls made on one reservation (a grading job's) cost (Decimal USD, 0 without
    calls): the live progress shows this job's cost, not the whole exam's."""
    # The job's own key, or one of its units' (services.unit_key: "<job's key>:<unit>").
    calls = UsageRecord.objects.filter(Q(reservation__key=key) | Q(reservation__key__startswith=f"{key}:"))
    return calls.aggregate(total=Sum("total_cost"))["total"] or ZERO


def money_str(value: Decimal) -> str:
    """A Decimal USD amount as a JSON string: every decimal kept, no exponent, "0" for zero."""
    return format(value.normalize(), "f") if value else "0"


def _breakdown_json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        **{f: money_str(values[f]) for f in COST_FIELDS},
        **{f"{f}_eur": money_str(usd_to_eur(values[f])) for f in COST_FIELDS},
        **{f: values[f] for f in TOKEN_FIELDS},
    }


def usage_exam_cost_json(*, exam_id: int, user: User | None = None) -> dict[str, Any]:
    """The exam's cost breakdown for JSON (API, export): {currency, usd_eur_rate, phases: {phase:
    {…}}, total: {…}}; costs as Decimal strings in USD (`currency`) and, under the same names
    with `_eur`, in euros at usd_eur_rate; token counts as integers."""
    breakdown = usage_exam_cost(exam_id=exam_id, user=user)
    return {
        "currency": "USD",
        "usd_eur_rate": money_str(settings.USD_EUR_RATE),
        "phases": {phase: _breakdown_json(values) for phase, values in breakdown["phases"].items()},
        "total": _breakdown_json(breakdown["total"]),
    }


def usage_exam_total_cost_subquery() -> Coalesce:
    """An annotation for an exam queryset: the exam's total cost (Decimal USD, 0 without calls).

    A correlated subquery on the outer exam's pk rather than a join, so other per-exam sums in
    the same query are not multiplied by ledger rows.
    """
    money: DecimalField[Decimal, Decimal] = DecimalField(max_digits=16, decimal_places=10)
    per_exam = (
        UsageRecord.objects.filter(exam_id=OuterRef("pk"))
        .order_by()
        .values("exam_id")
        .annotate(v=Sum("total_cost"))
        .values("v")
    )
    return Coalesce(Subquery(per_exam, output_field=money), Value(ZERO), output_field=money)


# --- Operators' reports ----------------------------------------------------------------------


def _between(start: datetime | None, end: datetime | None) -> QuerySet[UsageRecord]:
    records = UsageRecord.objects.all()
    if start is not None:
        records = records.filter(created_at__gte=start)
    if end is not None:
        records = records.filter(created_at__lt=end)
    return records


def usage_by_user_month(*, start: datetime | None = None, end: datetime | None = None) -> QuerySet[Any]:
    """Rows {user__email, month, calls, tokens, cost} for the admin report, newest month first."""
    return (
        _between(start, end)
        .annotate(month=TruncMonth("created_at"))
        .values("user_id", "user__email", "month")
        .annotate(calls=Count("id"), tokens=Sum("total_tokens"), cost=Sum("total_cost"), savings=Sum("savings"))
        .order_by("-month", "-cost")
    )


def usage_top_spenders(*, start: datetime | None = None, end: datetime | None = None, limit: int = 20) -> QuerySet[Any]:
    return (
        _between(start, end)
        .values("user_id", "user__email")
        .annotate(calls=Count("id"), tokens=Sum("total_tokens"), cost=Sum("total_cost"))
        .order_by("-cost", "-tokens")[:limit]
    )


# Plans and prices, for the apps above usage (they import selectors and services only).
__all__ = [
    "CLASS_COPIES",
    "TIER_LIMITS",
    "TIER_RESETS",
    "PriceCard",
    "copies_in",
    "typical_copies_in",
    "PriceMissing",
    "Tier",
    "UsageBar",
    "UsageSummary",
    "money_str",
    "month_start",
    "price_card",
    "tier_label",
    "usage_bar_get",
    "usage_bar_html",
    "usage_by_user_month",
    "usage_exam_cost",
    "usage_exam_cost_json",
    "usage_exam_total_cost_subquery",
    "usage_reservation_total_cost",
    "usage_period",
    "usage_school_by_teacher_month",
    "usage_school_period",
    "usage_summary",
    "usage_top_spenders",
    "usd_to_eur",
]
