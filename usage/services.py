"""Usage services: record LLM calls, reserve and settle tokens, set plans.

Other apps call these (never the models directly). Costs are Decimal USD.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Allowance, Reservation, UsageRecord
from .pricing import PriceCard, call_cost, price_card
from .tiers import TIER_LIMITS, TIER_RESETS, Tier


class QuotaExceeded(Exception):
    def __init__(self, *, needed: int, remaining: int):
        self.needed = needed
        self.remaining = max(remaining, 0)
        self.missing = needed - self.remaining
        super().__init__(
            _("Allocation insuffisante : il manque %(missing)s jetons (reste %(remaining)s, besoin %(needed)s).")
            % {"missing": f"{self.missing:,}", "remaining": f"{self.remaining:,}", "needed": f"{needed:,}"}
        )


@dataclass(frozen=True)
class UsageSummary:
    tier: str
    limit: int
    tokens_used: int
    reserved: int
    remaining: int
    has_monthly_reset: bool
    period_start: datetime | None
    period_end: datetime | None
    cost: Decimal

    @property
    def ratio(self) -> float:
        return (self.tokens_used / self.limit) if self.limit else 1.0


def _allowance(user) -> Allowance:
    allowance, _created = Allowance.objects.get_or_create(user=user)
    return allowance


def usage_period(allowance: Allowance, *, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the period usage counts in. FREE: the whole account life (None, None)."""
    if not TIER_RESETS[allowance.tier]:
        return None, None
    now = now or timezone.now()
    if allowance.period_start and allowance.period_end and allowance.period_start <= now < allowance.period_end:
        return allowance.period_start, allowance.period_end
    local = timezone.localtime(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_day = calendar.monthrange(start.year, start.month)[1]
    end = start.replace(day=last_day) + timedelta(days=1)
    return start, end


def _used(user, start: datetime | None, end: datetime | None) -> tuple[int, Decimal]:
    records = UsageRecord.objects.filter(user=user)
    if start is not None:
        records = records.filter(created_at__gte=start, created_at__lt=end)
    totals = records.aggregate(tokens=Sum("total_tokens"), cost=Sum("total_cost"))
    return totals["tokens"] or 0, totals["cost"] or Decimal(0)


def _held_remaining(user, *, exclude_key: str | None = None) -> int:
    """Tokens still held by running jobs: each reservation minus what its job already spent."""
    held = Reservation.objects.filter(user=user, state=Reservation.State.HELD)
    if exclude_key:
        held = held.exclude(key=exclude_key)
    held = held.annotate(spent=Sum("records__total_tokens"))
    return sum(max(r.tokens - (r.spent or 0), 0) for r in held)


def usage_summary(*, user) -> UsageSummary:
    allowance = _allowance(user)
    start, end = usage_period(allowance)
    used, cost = _used(user, start, end)
    reserved = _held_remaining(user)
    limit = TIER_LIMITS[allowance.tier]
    return UsageSummary(
        tier=allowance.tier,
        limit=limit,
        tokens_used=used,
        reserved=reserved,
        remaining=max(limit - used - reserved, 0),
        has_monthly_reset=TIER_RESETS[allowance.tier],
        period_start=start,
        period_end=end,
        cost=cost,
    )


def usage_reserve(*, user, key: str, tokens: int, exam=None) -> Reservation:
    """Holds `tokens` for a job, or raises QuotaExceeded. Idempotent on `key`.

    The user's Allowance row is locked for the check-and-insert, so concurrent starts by
    the same user are serialised and cannot together exceed the allowance.
    """
    _allowance(user)
    with transaction.atomic():
        allowance = Allowance.objects.select_for_update().get(user=user)
        existing = Reservation.objects.filter(key=key).first()
        if existing is not None:
            return existing
        start, end = usage_period(allowance)
        used, _cost = _used(user, start, end)
        remaining = TIER_LIMITS[allowance.tier] - used - _held_remaining(user)
        if tokens > remaining:
            raise QuotaExceeded(needed=tokens, remaining=remaining)
        return Reservation.objects.create(user=user, key=key, tokens=tokens, exam=exam)


def usage_job_may_continue(*, key: str, need: int = 1) -> bool:
    """Whether a job may start one more unit of work needing about `need` tokens."""
    reservation = Reservation.objects.select_related("user").get(key=key)
    allowance = _allowance(reservation.user)
    start, end = usage_period(allowance)
    used, _cost = _used(reservation.user, start, end)
    headroom = TIER_LIMITS[allowance.tier] - used - _held_remaining(reservation.user, exclude_key=key)
    return headroom >= need


def usage_settle(*, key: str) -> bool:
    """Settles a job's reservation to its actual usage. True only for the call that settled it."""
    with transaction.atomic():
        updated = Reservation.objects.filter(key=key, state=Reservation.State.HELD).update(
            state=Reservation.State.SETTLED, settled_at=timezone.now()
        )
        if updated:
            reservation = Reservation.objects.get(key=key)
            reservation.tokens_used = reservation.records.aggregate(t=Sum("total_tokens"))["t"] or 0
            reservation.save(update_fields=["tokens_used"])
    return bool(updated)


def usage_record(
    *,
    user,
    phase: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    idempotency_key: str,
    cached_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    exam=None,
    copy=None,
    reservation_key: str | None = None,
    price: PriceCard | None = None,
) -> UsageRecord:
    """Writes the ledger row of one LLM call. A second call with the same key changes nothing."""
    existing = UsageRecord.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    cost = call_cost(
        price or price_card(model),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_read_tokens=cached_read_tokens,
        cache_write_tokens=cache_write_tokens,
    )
    reservation = Reservation.objects.filter(key=reservation_key).first() if reservation_key else None
    try:
        with transaction.atomic():
            return UsageRecord.objects.create(
                user=user,
                exam=exam,
                copy=copy,
                phase=phase,
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cached_read_tokens=cached_read_tokens,
                cache_write_tokens=cache_write_tokens,
                total_tokens=prompt_tokens + completion_tokens,
                prompt_cost=cost.prompt_cost,
                completion_cost=cost.completion_cost,
                cached_cost=cost.cached_cost,
                total_cost=cost.total_cost,
                savings=cost.savings,
                reservation=reservation,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        return UsageRecord.objects.get(idempotency_key=idempotency_key)


def usage_plan_set(
    *, user, tier: str, period_start: datetime | None = None, period_end: datetime | None = None
) -> Allowance:
    """Billing (or an admin) sets the tier and the billing period; takes effect at once."""
    if tier not in Tier.values:
        raise ValueError(f"unknown tier {tier!r}")
    allowance = _allowance(user)
    allowance.tier = tier
    allowance.period_start = period_start
    allowance.period_end = period_end
    allowance.save(update_fields=["tier", "period_start", "period_end", "updated_at"])
    return allowance


def usage_exam_cost(*, exam_id: int) -> dict:
    """Cost breakdown of an exam, per phase and in total (Decimal USD)."""
    fields = ("prompt_cost", "completion_cost", "cached_cost", "total_cost", "savings")
    rows = (
        UsageRecord.objects.filter(exam_id=exam_id)
        .values("phase")
        .annotate(**{f: Sum(f) for f in fields}, tokens=Sum("total_tokens"))
    )
    phases = {row["phase"]: {f: row[f] or Decimal(0) for f in (*fields, "tokens")} for row in rows}
    total = {f: sum((p[f] for p in phases.values()), Decimal(0)) for f in (*fields, "tokens")}
    return {"phases": phases, "total": total}


__all__ = [
    "QuotaExceeded",
    "UsageSummary",
    "usage_exam_cost",
    "usage_job_may_continue",
    "usage_period",
    "usage_plan_set",
    "usage_record",
    "usage_reserve",
    "usage_settle",
    "usage_summary",
]
