"""Usage services: record LLM calls, reserve and settle tokens, set plans.

Other apps call these (never the models directly). Costs are Decimal USD.

Accounting convention: the allowance counts every token a provider bills for a call, i.e.
`prompt_tokens + completion_tokens` where prompt_tokens includes cached and cache-write
tokens (see `usage_record`). A user's usage in a period is a SUM over the ledger; the tokens
held by running jobs are what their reservations still hold beyond what they already spent.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from .models import Allowance, Reservation, UsageRecord
from .pricing import PriceCard, PriceMissing, call_cost, price_card, price_check
from .tiers import TIER_LIMITS, TIER_RESETS, Tier

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
COST_FIELDS = ("prompt_cost", "completion_cost", "cached_cost", "total_cost", "savings")
TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "cached_read_tokens", "cache_write_tokens", "total_tokens")


class QuotaExceeded(Exception):
    """A job does not fit the remaining allowance. `missing` = needed − remaining (tokens)."""

    def __init__(self, *, needed: int, remaining: int):
        self.needed = needed
        self.remaining = max(remaining, 0)
        self.missing = max(needed - self.remaining, 0)
        super().__init__(
            _(
                "Allocation insuffisante : il manque %(missing)s jetons "
                "(il en reste %(remaining)s, cette correction en demande environ %(needed)s)."
            )
            % {
                "missing": number_format(self.missing, force_grouping=True),
                "remaining": number_format(self.remaining, force_grouping=True),
                "needed": number_format(needed, force_grouping=True),
            }
        )


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

    @property
    def committed(self) -> int:
        return self.tokens_used + self.reserved

    @property
    def ratio(self) -> float:
        """Share of the allowance used or held (what decides whether the next job fits), ≥ 0."""
        return (self.committed / self.limit) if self.limit else 1.0

    @property
    def tier_label(self) -> str:
        return str(Tier(self.tier).label)


def _allowance(user) -> Allowance:
    allowance, _created = Allowance.objects.get_or_create(user=user)
    return allowance


def month_start(moment: datetime, months: int = 0) -> datetime:
    """Local midnight on the first day of the month `months` after `moment`'s month."""
    local = timezone.localtime(moment)
    index = local.year * 12 + local.month - 1 + months
    naive = datetime(index // 12, index % 12 + 1, 1)  # noqa: DTZ001 — made aware on the next line
    return timezone.make_aware(naive)


def _shift_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole months, the day clamped to the month's length (Stripe's rule)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def usage_period(allowance: Allowance, *, now: datetime | None = None) -> tuple[datetime | None, datetime | None]:
    """(start, end) of the period usage counts in, end exclusive. FREE: the whole account life (None, None).

    Paid tiers use the billing period set by billing (usage_plan_set). When that period has
    ended and billing has not yet told the next one (a late webhook), it rolls forward by whole
    months from the same anchor, as Stripe renews monthly plans, so usage from the previous
    period never leaks into the new one. Without a billing period: the calendar month
    (settings.TIME_ZONE).
    """
    if not TIER_RESETS[allowance.tier]:
        return None, None
    now = now or timezone.now()
    start, end = allowance.period_start, allowance.period_end
    if start and end and start < end and start <= now:
        months = 0
        while now >= _shift_months(end, months):
            months += 1
        return _shift_months(start, months), _shift_months(end, months)
    return month_start(now), month_start(now, 1)


def _usage_in(user, start: datetime | None, end: datetime | None) -> tuple[int, Decimal]:
    records = UsageRecord.objects.filter(user=user)
    if start is not None:
        records = records.filter(created_at__gte=start, created_at__lt=end)
    totals = records.aggregate(tokens=Sum("total_tokens"), cost=Sum("total_cost"))
    return totals["tokens"] or 0, totals["cost"] or ZERO


def _held(user, *, exclude_key: str | None = None) -> int:
    """Tokens still held by running jobs: each reservation minus what its job already spent."""
    held = Reservation.objects.filter(user=user, state=Reservation.State.HELD)
    if exclude_key:
        held = held.exclude(key=exclude_key)
    held = held.annotate(spent=Sum("records__total_tokens"))
    return sum(max(r.tokens - (r.spent or 0), 0) for r in held)


def _spent(reservation: Reservation) -> int:
    return reservation.records.aggregate(t=Sum("total_tokens"))["t"] or 0


def usage_summary(*, user, now: datetime | None = None) -> UsageSummary:
    # A read: no row is created for a user who never had one (they are FREE).
    allowance = Allowance.objects.filter(user=user).first() or Allowance(user=user)
    start, end = usage_period(allowance, now=now)
    used, cost = _usage_in(user, start, end)
    reserved = _held(user)
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


def usage_reserve(*, user, key: str, tokens: int, exam=None, models: Iterable[str] = ()) -> Reservation:
    """Holds `tokens` for a job, or raises QuotaExceeded (or PriceMissing). Idempotent on `key`.

    `models`: the models the job will call; a model without a price refuses the job before
    anything is held. The user's Allowance row is locked (SELECT … FOR UPDATE) for the
    check-and-insert, so concurrent starts by the same user are serialised and cannot together
    exceed the allowance. Call it inside the caller's transaction or not: the lock lasts until
    the outermost transaction ends, after the reservation is written.
    """
    if tokens < 0:
        raise ValueError("tokens must be >= 0")
    price_check(models)
    _allowance(user)
    with transaction.atomic():
        allowance = Allowance.objects.select_for_update().get(user=user)
        existing = Reservation.objects.filter(key=key).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise ValueError(f"reservation {key!r} belongs to another user")
            return existing
        start, end = usage_period(allowance)
        used, _cost = _usage_in(user, start, end)
        remaining = TIER_LIMITS[allowance.tier] - used - _held(user)
        if tokens > remaining:
            raise QuotaExceeded(needed=tokens, remaining=remaining)
        return Reservation.objects.create(user=user, key=key, tokens=tokens, exam=exam)


def usage_job_may_continue(*, key: str, need: int = 1) -> bool:
    """Whether a job may start one more unit of work (a copy) needing about `need` tokens.

    Yes while its reservation still holds `need` tokens beyond what it spent. Past that (the
    estimate was low), the reservation grows by what is missing if the allowance has room —
    under the same lock as usage_reserve, so two overrunning jobs cannot both take the last
    tokens. False once the reservation is settled or the allowance is exhausted: the engine
    then finishes the copy in flight and marks the rest "quota reached".
    """
    reservation = Reservation.objects.select_related("user").filter(key=key).first()
    if reservation is None or reservation.state != Reservation.State.HELD:
        return False
    user = reservation.user
    with transaction.atomic():
        allowance = Allowance.objects.select_for_update().get(user=user)
        reservation = Reservation.objects.get(pk=reservation.pk)
        if reservation.state != Reservation.State.HELD:
            return False
        spent = _spent(reservation)
        own_left = reservation.tokens - spent
        if own_left >= need:
            return True
        start, end = usage_period(allowance)
        used, _cost = _usage_in(user, start, end)
        headroom = TIER_LIMITS[allowance.tier] - used - _held(user, exclude_key=key)
        if headroom < need:
            return False
        Reservation.objects.filter(pk=reservation.pk).update(tokens=spent + need)
        return True


def usage_settle(*, key: str, outcome: str = "") -> bool:
    """Settles a job's reservation to its actual usage. True only for the call that settled it.

    Call it when the job leaves `running` — finished, failed or cancelled (`outcome`); a second
    call (a redelivered task) changes nothing. Calls recorded after settlement still count in
    the period's usage: the ledger, not the reservation, is the truth.
    """
    if outcome and outcome not in Reservation.Outcome.values:
        raise ValueError(f"unknown outcome {outcome!r}")
    with transaction.atomic():
        updated = Reservation.objects.filter(key=key, state=Reservation.State.HELD).update(
            state=Reservation.State.SETTLED, settled_at=timezone.now(), outcome=outcome
        )
        if updated:
            reservation = Reservation.objects.get(key=key)
            Reservation.objects.filter(pk=reservation.pk).update(tokens_used=_spent(reservation))
    return bool(updated)


def usage_reservations_expire(*, older_than: timedelta = timedelta(hours=12)) -> int:
    """Settles reservations held longer than any job runs (a worker lost mid-job), so they stop
    blocking the allowance. Returns how many were settled."""
    stale = Reservation.objects.filter(state=Reservation.State.HELD, created_at__lt=timezone.now() - older_than)
    count = 0
    for key in stale.values_list("key", flat=True):
        if usage_settle(key=key, outcome=Reservation.Outcome.EXPIRED):
            logger.warning("usage reservation expired", extra={"reservation": key})
            count += 1
    return count


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
    reasoning_tokens: int = 0,
    exam=None,
    copy=None,
    reservation_key: str | None = None,
    price: PriceCard | None = None,
) -> UsageRecord:
    """Writes the ledger row of one LLM call. A second call with the same key changes nothing.

    Token convention — litellm's normalised `response.usage`, for every provider:
    - prompt_tokens: ALL input tokens, cached reads and cache writes included. litellm already
      normalises Anthropic this way (its prompt_tokens = input_tokens + cache_read_input_tokens
      + cache_creation_input_tokens); OpenAI and Gemini report it so natively.
    - cached_read_tokens: usage.prompt_tokens_details.cached_tokens (Anthropic: cache_read_input_tokens).
    - cache_write_tokens: usage.prompt_tokens_details.cache_creation_tokens (Anthropic:
      cache_creation_input_tokens; 0 for OpenAI and Gemini implicit caching).
    - completion_tokens: all output tokens, reasoning included; reasoning_tokens:
      usage.completion_tokens_details.reasoning_tokens (priced apart only where the map says so).
    total_tokens = prompt_tokens + completion_tokens is what counts against the allowance.

    A model without a price is refused at job start (usage_reserve(models=…)); if its price
    disappears while a job runs, the row is still written (tokens count) with priced=False.
    """
    if phase not in UsageRecord.Phase.values:
        raise ValueError(f"unknown phase {phase!r}")
    counts = (prompt_tokens, completion_tokens, cached_read_tokens, cache_write_tokens, reasoning_tokens)
    if min(counts) < 0:
        raise ValueError("token counts must be >= 0")
    if cached_read_tokens + cache_write_tokens > prompt_tokens:
        raise ValueError(
            "prompt_tokens must include cached and cache-write tokens (litellm's normalised usage), "
            f"got prompt={prompt_tokens} cached={cached_read_tokens} cache_write={cache_write_tokens}"
        )
    existing = UsageRecord.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    priced = True
    try:
        cost = call_cost(
            price or price_card(model),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_read_tokens=cached_read_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
        )
    except PriceMissing:
        logger.error("usage recorded without a price", extra={"model": model})
        priced = False
        cost = call_cost(
            PriceCard(input=ZERO, output=ZERO, cache_read=ZERO, cache_write=ZERO),
            prompt_tokens=0,
            completion_tokens=0,
            cached_read_tokens=0,
            cache_write_tokens=0,
        )
    reservation = None
    if reservation_key:
        reservation = Reservation.objects.filter(key=reservation_key, user=user).first()
        if reservation is None:
            logger.warning("usage recorded against an unknown reservation", extra={"reservation": reservation_key})
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
                reasoning_tokens=reasoning_tokens,
                total_tokens=prompt_tokens + completion_tokens,
                prompt_cost=cost.prompt_cost,
                completion_cost=cost.completion_cost,
                cached_cost=cost.cached_cost,
                total_cost=cost.total_cost,
                savings=cost.savings,
                priced=priced,
                reservation=reservation,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        # A concurrent redelivery of the same call won the insert.
        return UsageRecord.objects.get(idempotency_key=idempotency_key)


def usage_plan_set(
    *, user, tier: str, period_start: datetime | None = None, period_end: datetime | None = None
) -> Allowance:
    """Billing (or an admin) sets the tier and the billing period; takes effect at once.

    The limit is read from the tier at every check, so an upgrade mid-period frees tokens for
    the next job immediately and a downgrade applies to the next job. Without a period, paid
    tiers count the calendar month.
    """
    if tier not in Tier.values:
        raise ValueError(f"unknown tier {tier!r}")
    if (period_start is None) != (period_end is None):
        raise ValueError("period_start and period_end go together")
    if period_start is not None and period_start >= period_end:
        raise ValueError("period_start must be before period_end")
    allowance = _allowance(user)
    allowance.tier = tier
    allowance.period_start = period_start
    allowance.period_end = period_end
    allowance.save(update_fields=["tier", "period_start", "period_end", "updated_at"])
    return allowance


def usage_exam_cost(*, exam_id: int) -> dict:
    """Cost breakdown of an exam, per phase and in total (Decimal USD, token counts).

    {"phases": {phase: {prompt_cost, completion_cost, cached_cost, total_cost, savings,
    tokens, …token fields}}, "total": {same keys}}; phases in the order of Phase.
    """
    rows = (
        UsageRecord.objects.filter(exam_id=exam_id)
        .values("phase")
        .annotate(**{f: Sum(f) for f in (*COST_FIELDS, *TOKEN_FIELDS)})
    )
    keys = (*COST_FIELDS, *TOKEN_FIELDS)
    by_phase = {row["phase"]: row for row in rows}
    phases = {}
    for phase in UsageRecord.Phase.values:
        if phase in by_phase:
            row = by_phase[phase]
            values = {f: row[f] or (ZERO if f in COST_FIELDS else 0) for f in keys}
            values["tokens"] = values["total_tokens"]
            phases[phase] = values
    total = {f: sum((p[f] for p in phases.values()), ZERO if f in COST_FIELDS else 0) for f in keys}
    total["tokens"] = total["total_tokens"]
    return {"phases": phases, "total": total}


__all__ = [
    "PriceMissing",
    "QuotaExceeded",
    "UsageSummary",
    "usage_exam_cost",
    "usage_job_may_continue",
    "usage_period",
    "usage_plan_set",
    "usage_record",
    "usage_reservations_expire",
    "usage_reserve",
    "usage_settle",
    "usage_summary",
]
