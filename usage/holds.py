"""Holds and settlements: what a job's copies may spend, round by round, and what they spent.

A job reserves its estimate when it starts (usage.services.usage_reserve). Each unit of the
job (a copy's attempt) then holds, before each round of calls, that round's worst case
(usage_hold); when the unit ends, its hold is settled to what it spent (usage_unit_settle) and
the rest goes back to the allowance. A grading worker runs these for every copy: each is
written in as few statements as its rule allows (a covered round is one read, a settlement
one UPDATE), as their cost is paid per copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone

from .models import Reservation, UsageRecord
from .pools import Pool, reservation_pool

# Sent with `key`, `user_id` and `school_id` (the pool it was taken on, None for the teacher's
# own) when usage_settle settles a reservation (finished, cancelled, expired): what it held and did
# not spend is free again, so apps above usage (grading starts the copies a partial launch left
# waiting) may use it without usage knowing them.
allowance_released = Signal()


class Hold(StrEnum):
    GRANTED = "granted"
    WAIT = "wait"  # no room now, but other units in flight will release tokens when they settle
    EXHAUSTED = "exhausted"  # no room, and nothing in flight that could free any


@dataclass(frozen=True)
class UnitHold:
    """usage_unit_hold's answer: the outcome and, when granted, the unit's reservation (its key,
    user and school loaded), which its calls' ledger rows are recorded against without reading
    it again (usage_record(reservation=…)): a unit's reservation is never re-keyed."""

    hold: Hold
    reservation: Reservation | None = None


def unit_key(*, pool_key: str, unit: str) -> str:
    """The reservation key of one unit of work (a copy's attempt) of the job reserving `pool_key`."""
    return f"{pool_key}:{unit}"


def _in_flight(budget: Pool, *, exclude_key: str) -> bool:
    """Whether another unit on this pool holds tokens beyond what it spent (it will settle)."""
    units = Reservation.objects.filter(budget.holders(), state=Reservation.State.HELD, key__contains=":").exclude(
        key=exclude_key
    )
    return any(r.tokens > r.spent for r in _with_spent(units))


def _tokens_of(records) -> Coalesce:
    """The sum of `records`' tokens as a subquery (0 without any)."""
    total = records.order_by().annotate(group=Value(1)).values("group").annotate(t=Sum("total_tokens")).values("t")
    return Coalesce(Subquery(total, output_field=IntegerField()), 0)


def _spent() -> Coalesce:
    """What was recorded against the reservation a query reads (its ledger rows' tokens)."""
    return _tokens_of(UsageRecord.objects.filter(reservation_id=OuterRef("pk")))


def _with_spent(reservations):
    """The reservations with `spent` (a subquery, so they can also be locked FOR UPDATE)."""
    return reservations.annotate(spent=_spent())


def _job_locked(reservations):
    """The reservations locked (a unit's tokens are taken from its job's row under its lock),
    with `spent`."""
    return _with_spent(reservations.select_for_update())


def _first_hold_from_job(*, pool_key: str, key: str, need: int) -> Reservation | None:
    """A unit's first hold taken from its job's reservation alone, the common case (a job
    reserves its copies' estimate when it starts). Moving tokens from the job's row to the
    unit's changes nothing the allowance counts, so it needs only the job's row lock, not the
    allowance's, which every copy of a teacher (of a school) would otherwise queue on. Returns
    the unit's reservation; None when the job's reservation cannot cover it, or the unit exists
    after all: usage_hold's general path then decides."""
    try:
        with transaction.atomic():
            job = _job_locked(Reservation.objects.filter(key=pool_key, state=Reservation.State.HELD)).first()
            if job is None or job.tokens - job.spent < need:
                return None
            Reservation.objects.filter(pk=job.pk).update(tokens=F("tokens") - need)
            return Reservation.objects.create(
                key=key, user_id=job.user_id, tokens=need, exam_id=job.exam_id, school_id=job.school_id
            )
    except IntegrityError:  # the unit was created meanwhile (or settled before): nothing moved
        return None


def usage_units_prehold(*, pool_key: str, units: Sequence[tuple[str, int]]) -> int:
    """Gives the first units of a job that just reserved `pool_key` their first hold at once,
    from the job's reservation, in order while it covers them (`units`: each unit and its first
    round's worst case). Returns how many.

    Moving tokens from the job's row to its units changes nothing the allowance counts; done when
    the job starts, in one statement, it spares each of those copies the job row's lock that
    its first usage_hold would otherwise queue on with every other copy of the job starting at
    the same moment: their first round is then a covered one (one read). The units it cannot
    cover take their first hold as any unit does (usage_hold)."""
    with transaction.atomic():
        job = _job_locked(Reservation.objects.filter(key=pool_key, state=Reservation.State.HELD)).first()
        if job is None:
            return 0
        free, held = job.tokens - job.spent, []
        for unit, need in units:
            if need < 0:
                raise ValueError("need must be >= 0")
            if need > free:
                break
            free -= need
            held.append(
                Reservation(
                    key=unit_key(pool_key=pool_key, unit=unit),
                    user_id=job.user_id,
                    tokens=need,
                    exam_id=job.exam_id,
                    school_id=job.school_id,
                )
            )
        if held:
            Reservation.objects.filter(pk=job.pk).update(tokens=F("tokens") - sum(unit.tokens for unit in held))
            Reservation.objects.bulk_create(held)
    return len(held)


def usage_hold(*, pool_key: str, unit: str, need: int) -> Hold:
    """usage_unit_hold's outcome alone, for a caller that records no call against the unit."""
    return usage_unit_hold(pool_key=pool_key, unit=unit, need=need).hold


def usage_unit_hold(*, pool_key: str, unit: str, need: int) -> UnitHold:
    """Makes one unit of a job (a copy) hold `need` tokens beyond what it already spent.

    The unit's reservation (unit_key, created on first use) takes the tokens from its job's
    reservation (`pool_key`, the estimate held since the job started) first, then from the
    allowance's headroom, under the Allowance row lock: used + everything held never exceeds
    the limit, however many units ask at once. Callers ask before each round of calls for that
    round's worst case (every prompt's bound + max output tokens per call), so what the round
    spends never exceeds what was held. On refusal the unit gives back what it held beyond its
    spending (units waiting on each other cannot deadlock) and learns whether to wait.

    A unit's first round is held when its job starts (usage_units_prehold), else taken from
    its job's reservation under that row's lock alone when it can cover it
    (_first_hold_from_job). A round the unit's hold already covers is granted on one read,
    without any lock: what a unit holds changes only under its own execution (one lease per
    copy) and by its settlement, which the lock would not order any differently (settled just
    after the lock, the round runs all the same). Each way it grants, it has the unit's row at
    hand: it returns it with the outcome (UnitHold).
    """
    if need < 0:
        raise ValueError("need must be >= 0")
    key = unit_key(pool_key=pool_key, unit=unit)
    covered = _with_spent(Reservation.objects.filter(key=key, state=Reservation.State.HELD))
    held_now = covered.only("key", "user", "school", "tokens").first()
    if held_now is not None and held_now.spent + need <= held_now.tokens:
        return UnitHold(Hold.GRANTED, held_now)
    if held_now is None and (created := _first_hold_from_job(pool_key=pool_key, key=key, need=need)):
        return UnitHold(Hold.GRANTED, created)
    pool = Reservation.objects.select_related("user").filter(key=pool_key).first()
    if pool is None:
        return UnitHold(Hold.EXHAUSTED)
    user = pool.user
    with transaction.atomic():
        # The job's pool (usage.pools): the one its reservation was taken on, not necessarily
        # the one the teacher spends now.
        budget = reservation_pool(reservation=pool, lock=True)
        pool = _job_locked(Reservation.objects.filter(pk=pool.pk)).get()
        # Created on first use; a concurrent creation (a redelivery) is not an error.
        Reservation.objects.bulk_create(
            [Reservation(key=key, user=user, tokens=0, exam_id=pool.exam_id, school_id=pool.school_id)],
            ignore_conflicts=True,
        )
        held = _with_spent(Reservation.objects.filter(key=key)).get()
        if held.state != Reservation.State.HELD:
            return UnitHold(Hold.EXHAUSTED)
        spent = held.spent
        missing = spent + need - held.tokens
        if missing <= 0:
            return UnitHold(Hold.GRANTED, held)
        pooled = 0
        if pool.state == Reservation.State.HELD:
            pooled = min(missing, max(pool.tokens - pool.spent, 0))
        if missing > pooled and missing - pooled > budget.remaining():
            Reservation.objects.filter(pk=held.pk).update(tokens=spent)
            return UnitHold(Hold.WAIT if _in_flight(budget, exclude_key=key) else Hold.EXHAUSTED)
        if pooled:
            Reservation.objects.filter(pk=pool.pk).update(tokens=F("tokens") - pooled)
        Reservation.objects.filter(pk=held.pk).update(tokens=spent + need)
        return UnitHold(Hold.GRANTED, held)


def _outcome_check(outcome: str) -> None:
    if outcome and outcome not in Reservation.Outcome.values:
        raise ValueError(f"unknown outcome {outcome!r}")


def _settle(*, key: str, outcome: str, with_units: bool) -> bool:
    _outcome_check(outcome)
    # What it spent: its own ledger rows, and for a job those of its units (its copies' holds,
    # against which its calls are recorded), so that its line shows what they all spent.
    spent: Combinable = _spent()
    if with_units:
        spent = spent + _tokens_of(UsageRecord.objects.filter(reservation__key__startswith=f"{key}:"))
    # One statement: settled once, by whichever call gets there first.
    updated = Reservation.objects.filter(key=key, state=Reservation.State.HELD).update(
        state=Reservation.State.SETTLED, settled_at=timezone.now(), outcome=outcome, tokens_used=spent
    )
    return bool(updated)


def usage_settle(*, key: str, outcome: str = "") -> bool:
    """Settles a job's reservation to its actual usage. True only for the call that settled it.

    Call it when the job leaves `running` — finished, failed or cancelled (`outcome`); a second
    call (a redelivered task) changes nothing. Calls recorded after settlement still count in
    the period's usage: the ledger, not the reservation, is the truth. The call that settled
    it sends allowance_released (a receiver that starts work waits for the caller's commit).
    """
    if not _settle(key=key, outcome=outcome, with_units=True):
        return False
    user_id, school_id = Reservation.objects.filter(key=key).values_list("user_id", "school_id").get()
    allowance_released.send(sender=Reservation, key=key, user_id=user_id, school_id=school_id)
    return True


def usage_unit_settle(*, pool_key: str, unit: str, outcome: str = "") -> bool:
    """Settles one unit's reservation to what it spent (its unused tokens go back to the allowance)."""
    return _settle(key=unit_key(pool_key=pool_key, unit=unit), outcome=outcome, with_units=False)


def usage_units_settle(*, pool_key: str, outcome: str = "", units: Sequence[str] | None = None) -> int:
    """Settles, in one statement, every unit of a job still held (its copies all ended), or
    those of `units` (copies stopped before their first call: what the start gave them goes
    back). Each to what it spent. Returns how many."""
    _outcome_check(outcome)
    held = Reservation.objects.filter(key__startswith=f"{pool_key}:", state=Reservation.State.HELD)
    if units is not None:
        held = held.filter(key__in=[unit_key(pool_key=pool_key, unit=unit) for unit in units])
    return held.update(
        state=Reservation.State.SETTLED, settled_at=timezone.now(), outcome=outcome, tokens_used=_spent()
    )
