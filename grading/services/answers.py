"""Every answer a provider gave is paid for, so none is lost and none is bought twice.

The moment a call returns, its answer is kept in Redis under the call's idempotency key
(`answer_keep`), then its ledger row is written in its own transaction (`ledger_write`), both
in the call's own thread (`answer_call`): no answer waits in memory for the task's thread,
which may be busy with another call's row (or its backoff) when the worker is killed. Only
then the copy's ModelAnswer. A task that dies anywhere after the answer (a dropped database
connection, a killed worker, an exam deleted meanwhile) finds the kept answer on its next run
(`answers_kept`): it records what is missing and never calls the provider again for that call.
Each ledger row is keyed by its call and its answer's receipt (LLMResult.receipt): a replay
writes nothing more; a call made again because both stores lost its answer has its own row.

Neither store may lose the answer because the other is down: a Redis that cannot keep it
(restarting, unreachable) does not stop the ledger row (`answer_keep` only logs), and a
ledger write that keeps failing (connections killed one after the other, PostgreSQL
restarting) is retried with a backoff for a few seconds, then once more by the task's thread,
before the task gives up and leaves the answer to Redis and its next run.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist
from django.db import IntegrityError, InterfaceError, OperationalError, close_old_connections, connection
from django.utils import translation
from redis.exceptions import RedisError

from accounts.models import User
from usage.services import UnitHold, usage_record

from ..engine.llm import LLMResult, llm_complete
from ..models import Copy, Exam

logger = logging.getLogger(__name__)

# Longer than any retry budget or re-enqueueing of a copy: the answer is there for its next run.
KEEP_S = 7 * 24 * 3600
# A dropped connection is reopened this many times, after RECONNECT_WAIT_S · 2^n (capped at
# RECONNECT_WAIT_MAX_S: about 6 s in all), before the task's own retry takes over.
RECONNECTS = 5
RECONNECT_WAIT_S = 0.2
RECONNECT_WAIT_MAX_S = 2.0


def _cache_key(key: str) -> str:
    return f"llm-answer:{key}"


def answer_keep(*, key: str, result: LLMResult) -> bool:
    """Keeps the answer for a later run; False (logged) when Redis cannot take it now: the
    ledger row is still written, only a replay after a later failure would miss it."""
    data = dataclasses.asdict(result)
    data["litellm_cost"] = str(result.litellm_cost) if result.litellm_cost is not None else None
    try:
        cache.set(_cache_key(key), data, KEEP_S)
    except RedisError:
        logger.warning("LLM answer not kept in Redis", exc_info=True, extra={"key": key})
        return False
    return True


def answers_kept(*, keys: Iterable[str]) -> dict[str, LLMResult]:
    """The answers kept for these calls (a round's), by key, in one read: those a previous run
    was given but could not store."""
    keys = list(keys)
    found = cache.get_many([_cache_key(key) for key in keys])
    kept = {}
    for key in keys:
        if (data := found.get(_cache_key(key))) is not None:
            cost = data.pop("litellm_cost", None)
            kept[key] = LLMResult(**data, litellm_cost=Decimal(cost) if cost is not None else None)
    return kept


def answers_forget(*, keys: Iterable[str]) -> None:
    """Drops the kept answers of calls now stored (a round's), in one command."""
    keys = list(keys)
    if not keys:
        return
    try:
        cache.delete_many([_cache_key(key) for key in keys])
    except RedisError:  # stored in the database already; the kept copies expire (KEEP_S)
        logger.warning("kept LLM answers not deleted", exc_info=True, extra={"keys": keys})


def _reconnecting(write):
    """Runs `write()`; a connection the server dropped is reopened and the write tried again,
    after a short backoff (outside any transaction only: inside one, the task's retry redoes
    the whole round)."""
    for reconnect in range(RECONNECTS + 1):
        try:
            return write()
        except (OperationalError, InterfaceError):
            if reconnect == RECONNECTS or connection.in_atomic_block:
                raise
            logger.warning("database connection lost while recording an LLM call: reconnecting")
            connection.close()
            time.sleep(min(RECONNECT_WAIT_S * 2**reconnect, RECONNECT_WAIT_MAX_S))
    raise AssertionError("unreachable")


def ledger_write(
    *,
    key: str,
    user: User,
    copy: Copy,
    phase: str,
    result: LLMResult,
    reservation_key: str | None,
    granted: UnitHold | None = None,
) -> None:
    """The answer's ledger row, in its own transaction, once per answer: keyed by the call's key
    and the answer's receipt, so replaying a kept answer writes nothing more, while a call made
    again because its answer was lost before it was stored (its row written, then the database
    and Redis failing together) is billed again and recorded again. An exam (or copy) deleted
    while the call ran leaves the row without them: the provider billed the call all the same.
    `granted`: the hold that gave the call its tokens, which returned the reservation keyed
    `reservation_key`: the row is recorded against it without reading it again."""
    if result.receipt:
        key = f"{key}:{result.receipt}"

    def write(exam: Exam | None, of_copy: Copy | None) -> None:
        usage_record(
            user=user,
            exam=exam,
            copy=of_copy,
            phase=phase,
            model=result.model,
            **result.ledger_tokens,
            idempotency_key=key,
            reservation_key=reservation_key,
            reservation=granted.reservation if granted is not None else None,
        )

    def attempt() -> None:
        try:
            write(copy.exam, copy)
        except (IntegrityError, ObjectDoesNotExist):
            # The exam or the copy is gone (a foreign key refused at commit).
            logger.warning("LLM call recorded without its exam, deleted meanwhile", extra={"key": key})
            write(None, None)

    _reconnecting(attempt)


@dataclasses.dataclass(frozen=True)
class Answered:
    """A call's answer, and whether the call's thread committed its ledger row."""

    result: LLMResult
    recorded: bool


def answer_call(
    *,
    key: str,
    language: str | None,
    ledger: Callable[..., None] | None,
    answered: Callable[[], None] = lambda: None,
    **call: Any,
) -> Answered:
    """One call (`llm_complete(**call)`) on a thread of llm_pool(): its answer kept at once, then
    its ledger row written at once (`ledger(result=…)`, ledger_write with the call's arguments),
    each in this thread, whatever the task's thread is doing meanwhile.

    `ledger` None leaves the row to the task's thread: the caller passes None when its own
    connection is inside a transaction (connection.in_atomic_block), whose rows (the copy, its
    exam, the teacher) this thread's connection cannot see until it commits; a test's `db`
    fixture runs each test so. Any failure here is left to the task's thread too, which records
    whatever is not `recorded` (same row key: never twice) and raises what it cannot record.
    `answered()` runs as soon as the provider has answered or failed: the call's slot
    (engine.call_slots.CallSlots) is free for another copy's call while this one is recorded."""
    try:
        # Activated languages are per thread: errors raised in the call threads speak the task's.
        with translation.override(language):
            result = llm_complete(**call)
    finally:
        answered()
    answer_keep(key=key, result=result)
    return Answered(result, recorded=ledger is not None and _recorded_here(ledger, result, key=key))


def _recorded_here(ledger: Callable[..., None], result: LLMResult, *, key: str) -> bool:
    """The ledger row on this pool thread's own database connection. The pool's threads outlive
    tasks, which Celery (and Django, around a request) would otherwise clean up after: the
    connection follows the same policy around each write (close_old_connections): reused up to
    CONN_MAX_AGE (600 s in a worker, so one connection per busy call thread; 0 elsewhere: closed
    after the write), checked before its first query (CONN_HEALTH_CHECKS), closed when an error
    left it unusable."""
    close_old_connections()
    try:
        ledger(result=result)
    except Exception:
        logger.warning(
            "LLM call not recorded in its own thread: the task records it", exc_info=True, extra={"key": key}
        )
        return False
    finally:
        close_old_connections()
    return True
