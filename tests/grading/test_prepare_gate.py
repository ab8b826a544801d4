"""A grading process prepares at most CORRIGO_PREPARE_AT_ONCE copies at once (services.prepare_gate):
a copy task enters when it starts and leaves just before its first call waits for a slot."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from grading.models import Copy
from grading.services.jobs import _job_create
from grading.services.prepare_gate import prepare_done, preparing
from grading.tasks import copy_grade_task
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import scaled, wait_until

from .helpers import grades_json

WAIT = 20  # base seconds for a thread's step (scaled to the machine's load)


def _inside_at_once(threads: int) -> tuple[int, bool]:
    """`threads` threads prepare at once: the most seen inside together, and whether all met inside."""
    inside, most = 0, 0
    lock = threading.Lock()
    met = threading.Barrier(threads, timeout=scaled(2))
    all_met = True

    def prepare() -> None:
        nonlocal inside, most, all_met
        with preparing():
            with lock:
                inside += 1
                most = max(most, inside)
            try:
                met.wait()
            except threading.BrokenBarrierError:
                all_met = False
            with lock:
                inside -= 1

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(prepare) for _ in range(threads)]:
            future.result(timeout=scaled(WAIT))
    return most, all_met


@pytest.mark.parametrize(("at_once", "most", "all_met"), [(0, 4, True), (2, 2, False), (1, 1, False)])
def test_at_most_the_setting_prepare_at_once(settings, at_once, most, all_met):
    settings.CORRIGO_PREPARE_AT_ONCE = at_once
    assert _inside_at_once(4) == (most, all_met)


def test_at_exactly_the_bound_they_prepare_together(settings):
    settings.CORRIGO_PREPARE_AT_ONCE = 3
    assert _inside_at_once(3) == (3, True)


def test_a_prepared_copy_lets_the_next_one_in_before_its_task_ends(settings):
    settings.CORRIGO_PREPARE_AT_ONCE = 1
    done, entered = threading.Event(), threading.Event()

    def first() -> bool:
        with preparing():
            prepare_done()
            prepare_done()  # again (a later round): gives nothing back twice
            done.set()
            return entered.wait(scaled(WAIT))  # still in its task: the next preparation runs meanwhile

    def second() -> None:
        done.wait(scaled(WAIT))
        with preparing():
            entered.set()

    with ThreadPoolExecutor(2) as pool:
        waited = pool.submit(first)
        pool.submit(second).result(timeout=scaled(WAIT))
        assert waited.result(timeout=scaled(WAIT)) is True
    assert _inside_at_once(1) == (1, True)  # the gate is whole: one in, not two, not none


def test_a_failed_preparation_gives_its_place_back_and_a_task_inside_another_does_not_wait(settings):
    settings.CORRIGO_PREPARE_AT_ONCE = 1

    def failing() -> None:
        with preparing():
            raise ValueError("reading the copy failed")

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError):
        pool.submit(failing).result(timeout=scaled(WAIT))
    with preparing(), preparing():  # a task run inline by another (eager mode) enters freely
        pass
    assert _inside_at_once(1) == (1, True)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_copy_waiting_for_a_call_slot_does_not_hold_the_next_copys_preparation(llm_server, teacher, settings):
    """One slot for the process's calls, one preparation at a time: the first copy's call is in
    flight; the second copy gets through its preparation (to GRADING, its hold taken) and waits
    for the slot, instead of waiting for the first copy's task to end."""
    settings.CORRIGO_PREPARE_AT_ONCE = 1
    settings.CORRIGO_LLM_CALL_SLOTS = 1
    settings.CORRIGO_LLM_TIMEOUT = scaled(60)  # the first call is long on purpose
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    first, second = copy_with_pages(exam, pages=1), copy_with_pages(exam, pages=1)
    job = _job_create(exam=exam, user=teacher, copies=[first, second], estimate_tokens=100_000)
    llm_server.script(grades_json([2, 4]), latency=scaled(5), times=2)

    def task(copy: Copy) -> str:
        try:
            copy.refresh_from_db()
            return copy_grade_task.apply(args=[copy.pk, job.pk, copy.attempt]).get()
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        first_done = pool.submit(task, first)
        wait_until(lambda: len(llm_server.requests) == 1, base=WAIT, what="the first copy's call")
        second_done = pool.submit(task, second)
        wait_until(
            lambda: Copy.objects.get(pk=second.pk).status == Copy.Status.GRADING,
            base=WAIT,
            what="the second copy prepared",
        )
        assert Copy.objects.get(pk=first.pk).status == Copy.Status.GRADING  # its call still out
        assert len(llm_server.requests) == 1  # the second waits for the slot
        assert first_done.result(timeout=scaled(60)) == second_done.result(timeout=scaled(60)) == Copy.Status.DONE
    first_call, second_call = llm_server.requests  # one after the other: one slot
    assert second_call.started >= first_call.ended
