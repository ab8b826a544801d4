"""One copy through the engine: the copy task's service.

grade_copy (engine.grader) decides what to ask and how grades are reached; this module makes
the calls, in parallel, keeps each answer and writes its ledger row, in its own transaction,
in the call's own thread (services.answers.answer_call), then its ModelAnswer, under unique
keys (UsageRecord.idempotency_key, ModelAnswer per copy / attempt / phase / slot / repair). A
retried or redelivered task replays the calls already stored or kept instead of paying for
them again, and every state change is a conditional UPDATE (Copy.transition), so a copy is
graded once.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, as_completed
from functools import partial

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone, translation

from core.i18n import text_dump
from usage.services import Hold, UnitHold, unit_key, usage_unit_hold

from ..engine.asking import Reply, Request, reply_parse
from ..engine.call_slots import llm_call_slots
from ..engine.config import RoleConfig
from ..engine.errors import EngineError, TransientLLMError
from ..engine.grader import PhaseRun, grade_copy
from ..engine.llm import LLMResult, llm_pool
from ..engine.prompts import ExamContext, exam_context
from ..engine.schema import CopyGrades, parse_copy_grades
from ..models import Copy, GradingJob, ModelAnswer
from .answers import Answered, answer_call, answer_keep, answers_forget, answers_kept, ledger_write
from .copy_failures import copy_fail
from .estimate import copy_first_round_worst, request_worst_tokens, slot_configs
from .events import progress_push
from .grade_writing import copy_grades_write
from .holds import NoRoom, copy_no_room, copy_unit, copy_unit_settle
from .jobs import job_maybe_finish
from .leases import IN_FLIGHT, ExecutionLease, LeaseLost, lease_clock, lease_keeper, lease_length
from .manipulation import copy_manipulation
from .names import copy_pages_for_grading
from .prepare_gate import prepare_done
from .subject_pages import subject_prompt_pages

logger = logging.getLogger(__name__)

# What copy_grade returns for a copy deleted (with its exam) before or while it ran.
DELETED = "deleted"


class CopyGone(Exception):
    """The copy was deleted (with its exam) while its calls ran: nothing is left to grade."""


def _call_key(copy: Copy, *, phase: str, slot: str, repair: bool) -> str:
    return f"copy:{copy.pk}:{copy.attempt}:{phase}:{slot}" + (":repair" if repair else "")


def _store(copy: Copy, *, phase: str, slot: str, repair: bool, result: LLMResult, reply: Reply) -> tuple[int, Reply]:
    """The audit row of one call whose ledger row is written (see _run): its id, and the reply.
    Its kept answer is dropped with the round's others once they are all stored."""
    try:
        with transaction.atomic():
            answer = ModelAnswer.objects.create(
                copy=copy,
                attempt=copy.attempt,
                phase=phase,
                slot=slot,
                repair=repair,
                model=result.model,
                raw=result.content,
                parsed=reply.value.model_dump() if reply.value is not None else None,
                error=text_dump(reply.error, limit=20_000),
            )
    except IntegrityError:
        # A duplicate delivery stored it first (its answer is the one that counts), or the
        # copy is gone with its exam.
        stored = ModelAnswer.objects.filter(
            copy=copy, attempt=copy.attempt, phase=phase, slot=slot, repair=repair
        ).first()
        if stored is None:
            raise CopyGone from None
        answer, reply = stored, _replayed(stored)
    return answer.pk, reply


def _replayed(answer: ModelAnswer) -> Reply:
    return Reply(model=answer.model, raw=answer.raw, value=answer.get_grades(), error=answer.error_text)


def _run(
    copy: Copy,
    job: GradingJob,
    lease: ExecutionLease,
    *,
    held: int,
    granted: UnitHold | None,
    seen: dict[int, CopyGrades],
) -> PhaseRun:
    """`held`: the first round's worst case this execution held just before (copy_grade), as
    `granted` (then the last hold granted: the calls' rows are recorded against the reservation
    it returned, not read again; None before one): that round does not ask for its hold again
    when it needs no more. `seen` gets every usable answer of the attempt, by ModelAnswer id."""

    def run(phase: str, requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
        """Replays the calls of this round already stored; makes the others in parallel and stores each."""
        nonlocal held, granted
        covered, held = held, 0  # what copy_grade held covers this execution's first round only
        stored = ModelAnswer.objects.filter(
            copy=copy, attempt=copy.attempt, phase=phase, repair=repair, slot__in=list(requests)
        )
        replies: dict[str, Reply] = {}
        for answer in stored:
            replies[answer.slot] = _replayed(answer)
            if (grades := replies[answer.slot].value) is not None:
                seen[answer.pk] = grades
        pending = {slot: request for slot, request in requests.items() if slot not in replies}
        if not pending:
            return replies
        keys = {slot: _call_key(copy, phase=phase, slot=slot, repair=repair) for slot in pending}
        # Answers a previous run was given but could not store: recorded now, never paid twice.
        kept = answers_kept(keys=keys.values())
        results = {slot: kept[keys[slot]] for slot in pending if keys[slot] in kept}
        to_call = {slot: request for slot, request in pending.items() if slot not in results}
        futures: dict[Future[Answered], str] = {}

        def ledger(slot: str):
            """The slot's ledger row, ledger_write but the answer (`result=`)."""
            return partial(
                ledger_write,
                key=keys[slot],
                user=job.created_by,
                copy=copy,
                phase="repair" if repair else phase,
                reservation_key=unit_key(pool_key=job.reservation_key, unit=copy_unit(copy)),
                granted=granted,
            )

        if to_call:
            # Still ours? A worker stalled past its lease may find the copy given to another
            # execution: it stops here rather than pay for the round a second time.
            if not lease.still_ours():
                raise LeaseLost
            # The round's worst case is held before any call: what it spends cannot exceed it.
            need = sum(request_worst_tokens(request) for request in to_call.values())
            if not (phase == "grading" and not repair and need <= covered):
                granted = usage_unit_hold(pool_key=job.reservation_key, unit=copy_unit(copy), need=need)
                if granted.hold is not Hold.GRANTED:
                    raise NoRoom(granted.hold)
            pool, language, slots = llm_pool(), translation.get_language(), llm_call_slots()
            # Each answer is kept and recorded in its call's thread (answer_call): none waits for
            # another's row. Inside a transaction of ours, what the call threads would refer to
            # is not committed yet: this thread records them. The round waits for its slots in
            # the process's CallSlots; each is given back as soon as its provider has answered.
            in_thread = not connection.in_atomic_block
            prepare_done()  # the process's next copy may be prepared while this one waits
            calls, taken = list(to_call.items()), 0
            for index, (slot, request) in enumerate(calls):
                if not taken:  # together, as many as the process has (verification rounds last)
                    taken = slots.take(len(calls) - index, last=phase == "verification")
                try:
                    future = pool.submit(
                        answer_call,
                        key=keys[slot],
                        language=language,
                        ledger=ledger(slot) if in_thread else None,
                        answered=slots.give,
                        config=request.config,
                        messages=request.messages,
                    )
                except BaseException:
                    slots.give(taken)  # this call's and those of the round not submitted yet
                    raise
                taken -= 1
                futures[future] = slot
        # Every answered call in the ledger before any audit row, each in its own transaction,
        # whatever happens to the others' rows: here only those the call's thread did not write
        # (and answers kept by a previous run).
        failure: Exception | None = None
        unrecorded: Exception | None = None

        def record(slot: str, result: LLMResult) -> None:
            nonlocal unrecorded
            try:
                ledger(slot)(result=result)
            except (OperationalError, InterfaceError) as exc:
                # The database stays out of reach: the answer waits in Redis for the task's
                # retry, which records it before anything else (and does not pay for it again).
                if not answer_keep(key=keys[slot], result=result):
                    logger.error("LLM answer neither recorded nor kept", extra={"key": keys[slot]})
                unrecorded = unrecorded or exc

        for slot, result in results.items():
            record(slot, result)
        for future in as_completed(futures):
            slot = futures[future]
            try:
                answered = future.result()
            except EngineError as exc:
                failure = failure or exc
                continue
            results[slot] = answered.result
            if not answered.recorded:
                record(slot, answered.result)
        if unrecorded is not None:
            raise unrecorded
        for slot in [slot for slot in pending if slot in results]:  # in the round's order
            result = results[slot]
            reply = reply_parse(result, partial(parse_copy_grades, expected_ids=pending[slot].expected))
            answer_id, replies[slot] = _store(copy, phase=phase, slot=slot, repair=repair, result=result, reply=reply)
            if (grades := replies[slot].value) is not None:
                seen[answer_id] = grades
        answers_forget(keys=[keys[slot] for slot in pending if slot in results])  # stored now
        if failure is not None:
            # The calls that succeeded are stored: a retry will not pay for them again.
            raise failure
        return replies

    return run


def copy_for_grading(copy_id: int) -> Copy | None:
    """The copy as its grading starts from, in one query: with its exam and the exam's teacher
    (whose language the copy task speaks), its job and the job's creator."""
    return Copy.objects.select_related("exam__owner", "job", "job__created_by").filter(pk=copy_id).first()


def copy_grade(*, copy_id: int, job_id: int, attempt: int, lease_owner: str, copy: Copy | None = None) -> str:
    """Grades one copy of a job; returns the copy's status afterwards.

    Raises TransientLLMError for the task to retry later; every other problem marks the
    copy failed with its reason. A copy that is done, failed or cancelled is left alone, and
    so is one whose lease another live execution holds (`lease_owner` = this execution).
    `copy`: the copy_for_grading(copy_id) its task read moments before, else read here.
    """
    if copy is None:
        copy = copy_for_grading(copy_id)
    if copy is None:
        return DELETED  # with its exam, before this task ran
    job = copy.job
    if job is None or job.pk != job_id or copy.attempt != attempt:
        return "stale"
    exam = copy.exam
    configs, ctx, held, granted = None, None, 0, None
    lease = ExecutionLease(copy_id=copy.pk, owner=lease_owner)
    if copy.status == Copy.Status.QUEUED:
        if job.status != GradingJob.Status.RUNNING:
            return copy.status
        try:
            configs = slot_configs(exam, checked=False)
        except EngineError as exc:
            copy_fail(copy=copy, reason=exc.message)
            return Copy.Status.FAILED
        _grading_reads(copy)
        ctx = exam_context(exam, subject_pages=subject_prompt_pages(exam=exam))
        held = copy_first_round_worst(copy, configs=configs, ctx=ctx)
        granted = usage_unit_hold(pool_key=job.reservation_key, unit=copy_unit(copy), need=held)
        if granted.hold is not Hold.GRANTED:
            return copy_no_room(copy, job, granted.hold)
        leased_at = lease_clock()
        if not copy.transition(
            source=[Copy.Status.QUEUED],
            target=Copy.Status.GRADING,
            lease_owner=lease_owner,
            lease_until=timezone.now() + lease_length(),
        ):
            return "taken"
        lease.taken(leased_at)
        progress_push(exam, copies=[copy.pk])
    elif copy.status not in IN_FLIGHT:
        return copy.status  # settled already: a redelivery changes nothing
    elif not lease.take():
        return "taken"  # a live execution holds it

    lease_keeper.hold(copy_id=copy.pk, owner=lease_owner)
    try:
        return _copy_grade_leased(copy, job, configs=configs, ctx=ctx, held=held, granted=granted, lease=lease)
    finally:
        lease_keeper.release(owner=lease_owner)


def _grading_reads(copy: Copy) -> None:
    """The copy's pages and its exam's questions, read once for the whole grading: the first
    round's bound, the prompts, the manipulation check and the grades' rows use these (the
    barème cannot change while the exam is being graded, nor a graded copy's pages)."""
    prefetch_related_objects([copy], "pages", "exam__questions")


def _copy_grade_leased(
    copy: Copy,
    job: GradingJob,
    *,
    configs: dict[str, RoleConfig] | None,
    ctx: ExamContext | None,
    held: int,
    granted: UnitHold | None,
    lease: ExecutionLease,
) -> str:
    exam = copy.exam
    seen: dict[int, CopyGrades] = {}  # the attempt's usable answers, for the manipulation check
    try:
        configs = configs or slot_configs(exam, checked=False)
        if ctx is None:
            _grading_reads(copy)
            ctx = exam_context(exam, subject_pages=subject_prompt_pages(exam=exam))
        outcome = grade_copy(
            ctx=ctx,
            pages=copy_pages_for_grading(copy=copy),
            step=exam.rounding_step,
            configs=configs,
            run=_run(copy, job, lease, held=held, granted=granted, seen=seen),
            on_verification=lambda: _verifying(copy),
        )
    except TransientLLMError:
        raise
    except EngineError as exc:
        copy_fail(copy=copy, reason=exc.message)
        return Copy.Status.FAILED
    except CopyGone:
        return DELETED
    except NoRoom as exc:
        return copy_no_room(copy, job, exc.hold)
    except LeaseLost:
        return "taken"
    questions = {f"q{number}": question for number, question in enumerate(exam.questions.all(), start=1)}
    flagged, reason = copy_manipulation(copy=copy, outcome=outcome, answers=[seen[pk] for pk in sorted(seen)])
    with transaction.atomic():
        if not copy.transition(
            source=(Copy.Status.GRADING, Copy.Status.VERIFYING),
            target=Copy.Status.DONE,
            failure_reason="",
            flagged_manipulation=flagged,
            manipulation_reason=text_dump(reason, limit=2000),
        ):
            return Copy.objects.filter(pk=copy.pk).values_list("status", flat=True).first() or DELETED
        copy_grades_write(copy=copy, questions=questions, outcome=outcome)
    copy_unit_settle(copy, "finished")
    progress_push(exam, copies=[copy.pk])
    job_maybe_finish(job_id=job.pk)
    return Copy.Status.DONE


def _verifying(copy: Copy) -> None:
    if copy.transition(source=[Copy.Status.GRADING], target=Copy.Status.VERIFYING):
        progress_push(copy.exam, copies=[copy.pk])
