"""A grading process bounds its copies' provider calls (CORRIGO_LLM_CALL_SLOTS, engine.call_slots.CallSlots)
and runs more copy threads than that (config.workers: CORRIGO_WORKER_AHEAD): a call waits for a
slot, and gives it back as soon as the provider has answered or failed. A round's calls take their
slots together, rounds in the order they asked, verification rounds after grading rounds."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from config.workers import worker_plan
from grading import services
from grading.engine.call_slots import CallSlots, llm_call_slots
from grading.models import Copy
from grading.services.jobs import _job_create
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import scaled, wait_until
from usage.models import UsageRecord

from .double_correction import script_two_graders
from .helpers import from_model, grades_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def _copy_grade(copy: Copy, job) -> str:
    copy.refresh_from_db()
    return services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner=f"test-{copy.pk}")


def _graded(exam, teacher, copy) -> str:
    return _copy_grade(copy, _job_create(exam=exam, user=teacher, copies=[copy], estimate_tokens=50_000))


def _grading_thread(copy: Copy, job, statuses: dict[int, str]) -> threading.Thread:
    """The copy graded in a thread of its own (its own database connection, closed after)."""

    def grade() -> None:
        try:
            statuses[copy.pk] = _copy_grade(copy, job)
        finally:
            connection.close()

    return threading.Thread(target=grade)


def _double(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    llm_server.script(grades_json([2, 4]), match=from_model("openai/gpt-4o"), latency=0.3)
    llm_server.script(grades_json([2, 4]), match=from_model("openai/gpt-4.1-mini"), latency=0.3)
    return exam


@pytest.mark.parametrize(("slots", "at_once"), [(0, 2), (2, 2), (1, 1)])
def test_a_copys_two_graders_are_asked_at_once_only_when_two_slots_are_free(
    llm_server, teacher, settings, slots, at_once
):
    settings.CORRIGO_LLM_CALL_SLOTS = slots
    exam = _double(llm_server, teacher)
    llm_server.max_in_flight = 0
    copy = copy_with_pages(exam, pages=1)

    assert _graded(exam, teacher, copy) == Copy.Status.DONE
    assert llm_server.max_in_flight == at_once
    assert UsageRecord.objects.filter(copy=copy).count() == 2


def test_a_failed_call_gives_its_slot_back(llm_server, teacher, settings):
    settings.CORRIGO_LLM_CALL_SLOTS = 1
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    refused, graded = copy_with_pages(exam, pages=1), copy_with_pages(exam, pages=1)
    llm_server.script(fault="400")
    assert _graded(exam, teacher, refused) == Copy.Status.FAILED

    # The only slot is free again: the next copy's call is made (it would wait forever).
    llm_server.script(grades_json([2, 4]))
    assert _graded(exam, teacher, graded) == Copy.Status.DONE


def test_a_grading_process_runs_its_copies_ahead_with_twice_its_threads_as_call_slots():
    environ = {"CORRIGO_WORKER_PROCESSES": "2", "CORRIGO_WORKER_THREADS": "8"}
    *grading, render = worker_plan(environ)
    assert [(spec.threads, spec.env) for spec in grading] == [(16, {"CORRIGO_LLM_CALL_SLOTS": "16"})] * 2
    assert (render.threads, render.env) == (2, {})  # no model call there

    (alone, _render) = worker_plan({**environ, "CORRIGO_WORKER_PROCESSES": "1", "CORRIGO_WORKER_AHEAD": "0"})
    assert (alone.threads, alone.env) == (8, {})  # a thread a copy, no bound: as before


def _taking(slots: CallSlots, calls: int, served: list[str], name: str, *, last: bool = False) -> threading.Thread:
    """A thread whose round waits for its slots, then says it was served."""

    def take() -> None:
        slots.take(calls, last=last)
        served.append(name)

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def _in_line(slots: CallSlots, rounds: int) -> None:
    wait_until(lambda: slots.waiting() == rounds, base=10, what=f"{rounds} round(s) waiting for their slots")


def test_a_round_takes_its_slots_together_and_rounds_are_served_in_the_order_they_asked():
    slots, served = CallSlots(3), []
    assert slots.take(2) == 2  # one slot left
    _taking(slots, 2, served, "pair")
    _in_line(slots, 1)
    # A slot is free, but the pair asked first: the single call waits behind it.
    _taking(slots, 1, served, "single")
    _in_line(slots, 2)

    slots.give()  # two free: the pair goes out, both its calls at once; none left for the single
    wait_until(lambda: served == ["pair"], base=10, what="the pair served")
    assert slots.waiting() == 1
    slots.give()
    wait_until(lambda: served == ["pair", "single"], base=10, what="the single call served")
    assert slots.waiting() == 0


def test_a_verification_round_is_served_after_the_grading_rounds_waiting_with_it():
    slots, served = CallSlots(2), []
    slots.take(2)
    _taking(slots, 2, served, "verification", last=True)
    _in_line(slots, 1)
    _taking(slots, 2, served, "grading")  # asked later
    _in_line(slots, 2)

    slots.give(2)
    wait_until(lambda: served == ["grading"], base=10, what="the grading round served")
    assert slots.waiting() == 1
    slots.give(2)
    wait_until(lambda: served == ["grading", "verification"], base=10, what="the verification round served")


def test_a_round_larger_than_the_slots_goes_out_in_parts_and_a_slot_is_given_back_once():
    slots = CallSlots(2)
    assert slots.take(5) == 2
    slots.give(2)
    assert slots.take(1) == 1
    slots.give()
    with pytest.raises(ValueError, match="no slot taken"):
        slots.give()

    unbounded = CallSlots(0)
    assert unbounded.take(5) == 5
    unbounded.give(5)
    assert unbounded.waiting() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_copys_two_graders_wait_for_two_free_slots_rather_than_go_one_by_one(llm_server, teacher, settings):
    settings.CORRIGO_LLM_CALL_SLOTS = 2
    exam = _double(llm_server, teacher)
    copy = copy_with_pages(exam, pages=1)
    job = _job_create(exam=exam, user=teacher, copies=[copy], estimate_tokens=50_000)
    slots, statuses = llm_call_slots(), {}
    slots.take(1)  # another copy's call: one slot free

    thread = _grading_thread(copy, job, statuses)
    thread.start()
    try:
        _in_line(slots, 1)
        time.sleep(0.3)  # a first call taken alone would be at the provider by now
        sent_alone = list(llm_server.requests)
    finally:
        slots.give()
        thread.join(timeout=scaled(30))

    assert sent_alone == []
    assert statuses == {copy.pk: Copy.Status.DONE}
    assert llm_server.max_in_flight == 2


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_copys_verification_lets_another_copys_grading_call_first(llm_server, teacher, settings):
    """Two slots. A disputed copy's graders answer; its verification round asks for the slots
    while the process's other calls hold them; then another copy's grading round asks. When the
    slots are free, the grading round goes first: that copy may need a verification after."""
    settings.CORRIGO_LLM_CALL_SLOTS = 2
    settings.CORRIGO_LLM_TIMEOUT = scaled(60)  # the disputed copy's grading calls are long on purpose
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    disputed, agreed = copy_with_pages(exam, pages=1), copy_with_pages(exam, pages=1)
    script_two_graders(llm_server, latency=scaled(2))
    llm_server.script(grades_json([3, 4]), match=lambda request: "[TASK:verify]" not in request["text"], times=2)
    job = _job_create(exam=exam, user=teacher, copies=[disputed, agreed], estimate_tokens=100_000)
    slots, statuses = llm_call_slots(), {}
    holding, release = threading.Event(), threading.Event()

    def other_calls() -> None:  # the process's other copies' calls
        slots.take(2)
        holding.set()
        release.wait()
        slots.give(2)

    threads = [_grading_thread(disputed, job, statuses)]
    threads[0].start()
    try:
        wait_until(lambda: llm_server.in_flight == 2, base=10, what="the disputed copy's two grading calls")
        threads.append(threading.Thread(target=other_calls))
        threads[-1].start()
        _in_line(slots, 1)  # behind the disputed copy's grading calls
        wait_until(holding.is_set, base=20, what="the other calls served")
        _in_line(slots, 1)  # the disputed copy's verification round
        threads.append(_grading_thread(agreed, job, statuses))
        threads[-1].start()
        _in_line(slots, 2)  # and the agreed copy's grading round behind it
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=scaled(30))

    assert statuses == {disputed.pk: Copy.Status.DONE, agreed.pk: Copy.Status.DONE}
    asked = [("[TASK:verify]" in request.text) for request in llm_server.requests]
    assert asked == [False, False, False, False, True, True]
