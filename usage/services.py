"""Usage writes: record LLM calls, reserve and settle tokens, set plans.

Other apps call these and usage.selectors (never the models directly). Costs are Decimal
USD; the accounting convention is in usage.selectors' docstring.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import User
from core.errors import ApplicationError
from core.i18n import Grouped, Text

from .holds import (
    Hold,
    UnitHold,
    allowance_released,
    unit_key,
    usage_hold,
    usage_settle,
    usage_unit_hold,
    usage_unit_settle,
    usage_units_prehold,
    usage_units_settle,
)
from .models import Allowance, Reservation, UsageRecord
from .pools import allowance_pool, pool_school_now
from .pricing import CallCost, PriceMissing, call_cost, price_card
from .school_plans import usage_school_plan_set
from .selectors import ZERO
from .tiers import Tier

if TYPE_CHECKING:
    from django.db.models import Model

logger = logging.getLogger(__name__)

# Sent with `user` when usage_plan_set changed their tier or period: apps above usage (grading
# starts the copies a partial launch left waiting) react without usage knowing them.
allowance_changed = Signal()


class QuotaExceeded(ApplicationError):
    """A job does not fit the remaining allowance. `missing` = needed − remaining (tokens).

    Its message is a Text (core.i18n): a stopped appreciation run or a failed export stores it,
    and whoever reads it later reads it in their language, « jeton » agreed with `missing`."""

    def __init__(self, *, needed: int, remaining: int):
        self.needed = needed
        self.remaining = max(remaining, 0)
        self.missing = max(needed - self.remaining, 0)
        super().__init__(
            Text.ngettext(
                "Allocation insuffisante : il manque %(missing)s jeton "
                "(il en reste %(remaining)s, cette correction en demande environ %(needed)s).",
                "Allocation insuffisante : il manque %(missing)s jetons "
                "(il en reste %(remaining)s, cette correction en demande environ %(needed)s).",
                self.missing,
                missing=Grouped(self.missing),
                remaining=Grouped(self.remaining),
                needed=Grouped(needed),
            )
        )


def _allowance(user: User) -> Allowance:
    allowance, _created = Allowance.objects.get_or_create(user=user)
    return allowance


def usage_reserve(*, user: User, key: str, tokens: int, exam: Model | None = None) -> Reservation:
    """Holds `tokens` for a job, or raises QuotaExceeded. Idempotent on `key`.

    The user's Allowance row (and their school's row when a school pays: usage.pools) is locked
    (SELECT … FOR UPDATE) for the check-and-insert, so concurrent starts spending the same
    allowance are serialised and cannot together exceed it.
    Call it inside the caller's transaction or not: the lock lasts until the outermost
    transaction ends, after the reservation is written.
    """
    if tokens < 0:
        raise ValueError("tokens must be >= 0")
    _allowance(user)
    with transaction.atomic():
        pool = allowance_pool(user=user, lock=True)
        existing = Reservation.objects.filter(key=key).first()
        if existing is not None:
            if existing.user_id != user.pk:
                raise ValueError(f"reservation {key!r} belongs to another user")
            return existing
        remaining = pool.remaining()
        if tokens > remaining:
            raise QuotaExceeded(needed=tokens, remaining=remaining)
        # The job spends this pool to its end, whatever happens to the teacher's membership.
        return Reservation.objects.create(
            user=user, key=key, tokens=tokens, exam_id=exam.pk if exam else None, school=pool.school
        )


# Longer than any job runs: a reservation held past it belongs to a job whose worker was lost.
RESERVATION_MAX_AGE = timedelta(hours=12)


def usage_reservations_expire() -> int:
    """Settles reservations held longer than any job runs (a worker lost mid-job), so they stop
    blocking the allowance. Returns how many were settled."""
    stale = Reservation.objects.filter(
        state=Reservation.State.HELD, created_at__lt=timezone.now() - RESERVATION_MAX_AGE
    )
    count = 0
    for key in stale.values_list("key", flat=True):
        if usage_settle(key=key, outcome=Reservation.Outcome.EXPIRED):
            logger.warning("usage reservation expired", extra={"reservation": key})
            count += 1
    return count


def usage_record(
    *,
    user: User,
    phase: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    idempotency_key: str,
    cached_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int = 0,
    exam: Model | None = None,
    copy: Model | None = None,
    reservation_key: str | None = None,
    reservation: Reservation | None = None,
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

    A model without a price is refused before a job starts (grading checks price_card); if its
    price disappears while a job runs, the row is still written (tokens count) with priced=False.

    The row is recorded against `reservation` (as usage_unit_hold returned it: a copy's calls
    are recorded against the reservation its hold read, without reading it again), else the one
    keyed `reservation_key`, read here.
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
    # A second call with the same key (a replay) is refused by the key's unique index below and
    # answered with the row already written: no read before the insert, a call costs one.
    priced = True
    try:
        cost = call_cost(
            price_card(model),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_read_tokens=cached_read_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
        )
    except PriceMissing:
        logger.error("usage recorded without a price", extra={"model": model})
        priced = False
        cost = CallCost(prompt_cost=ZERO, completion_cost=ZERO, cached_cost=ZERO, total_cost=ZERO, savings=ZERO)

    def insert(paid_by: tuple[int | None, int | None]) -> UsageRecord:
        with transaction.atomic():
            return UsageRecord.objects.create(
                user=user,
                exam_id=exam.pk if exam else None,
                copy_id=copy.pk if copy else None,
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
                reservation_id=paid_by[0],
                school_id=paid_by[1],
                idempotency_key=idempotency_key,
            )

    try:
        return insert(_paid_by(user=user, reservation=reservation, reservation_key=reservation_key))
    except IntegrityError:
        # A concurrent redelivery of the same call won the insert.
        if (row := UsageRecord.objects.filter(idempotency_key=idempotency_key).first()) is not None:
            return row
        # The reservation given was deleted since it was read (a foreign key refused at commit):
        # recorded as against an unknown reservation. Else the exam or the copy is gone: the
        # caller decides (grading.services.answers.ledger_write records the row without them).
        if reservation is None or Reservation.objects.filter(pk=reservation.pk).exists():
            raise UsageRecord.DoesNotExist(idempotency_key) from None
    return insert(_paid_by(user=user, reservation=None, reservation_key=reservation.key))


def _paid_by(
    *, user: User, reservation: Reservation | None, reservation_key: str | None
) -> tuple[int | None, int | None]:
    """The reservation a call's row is recorded against (given, else read by key) and the pool
    that pays (usage.pools): the reservation's, else the teacher's school at this moment. An
    unknown reservation (or another user's) is logged and leaves the row to the teacher's pool."""
    found = None
    if reservation is not None:
        reservation_key = reservation.key
        found = (reservation.pk, reservation.school_id) if reservation.user_id == user.pk else None
    elif reservation_key:
        found = Reservation.objects.filter(key=reservation_key, user=user).values_list("pk", "school_id").first()
    if found is not None:
        return found
    if reservation_key:
        logger.warning("usage recorded against an unknown reservation", extra={"reservation": reservation_key})
    return None, getattr(pool_school_now(user=user), "pk", None)


def usage_plan_set(
    *, user: User, tier: str, period_start: datetime | None = None, period_end: datetime | None = None
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
    if period_start is not None and period_end is not None and period_start >= period_end:
        raise ValueError("period_start must be before period_end")
    allowance = _allowance(user)
    changed = (allowance.tier, allowance.period_start, allowance.period_end) != (tier, period_start, period_end)
    allowance.tier = tier
    allowance.period_start = period_start
    allowance.period_end = period_end
    allowance.save(update_fields=["tier", "period_start", "period_end", "updated_at"])
    if changed:
        allowance_changed.send(sender=Allowance, user=user)
    return allowance


__all__ = [
    "allowance_changed",
    "allowance_released",
    "PriceMissing",
    "QuotaExceeded",
    "Hold",
    "UnitHold",
    "unit_key",
    "usage_hold",
    "usage_unit_hold",
    "usage_unit_settle",
    "usage_units_prehold",
    "usage_units_settle",
    "usage_plan_set",
    "usage_school_plan_set",
    "usage_record",
    "usage_reservations_expire",
    "usage_reserve",
    "usage_settle",
]
