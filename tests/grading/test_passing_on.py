"""A copy its grading process cannot call at once goes, once, to the process with the most room
(grading/services/passing_on.py): through Redis (the rooms the processes write, the broker's
queue) and Celery's own queue of each worker, the last test with a real worker."""

from __future__ import annotations

import base64
import json
import logging
import time
from contextlib import ExitStack

import pytest
import redis
from celery.utils.nodenames import worker_direct
from django.conf import settings as django_settings
from kombu.exceptions import OperationalError as BrokerOperationalError

from grading import services
from grading.models import Copy, ModelAnswer
from grading.services import passing_on
from grading.services.broker import _queue_keys, broker_copy_ids
from grading.services.jobs import _job_create
from grading.services.passing_on import ROOM_FRESH_S, copy_pass_on, process_room, rooms_key
from grading.tasks import copy_grade_task
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import Deadline
from tests.support.servers import celery_worker_start
from usage.models import UsageRecord

from .conftest import roles_env
from .helpers import grades_json
from .test_reconcile import _quiet, broker_flush

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

HERE = "here@corrigo-test"


@pytest.fixture
def rooms(settings):
    """This process as a grading process named HERE, calling 2 copies at once (4 slots), with an
    empty broker and no room written; written rooms go through `write(node, room, age=0)`."""
    settings.CORRIGO_LLM_CALL_SLOTS = 4
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    broker_flush()
    client.delete(rooms_key())
    process_room.node = HERE
    process_room.closed.clear()

    def write(node: str, room: int, *, age: float = 0.0) -> None:
        client.hset(rooms_key(), node, f"{room} {time.time() - age:.3f}")

    yield write
    process_room.node = None
    process_room.closed.clear()
    client.delete(rooms_key())
    broker_flush()
    client.close()


def _running(stack: ExitStack, copies: int) -> None:
    """`copies` copy tasks running in this process (as counted)."""
    for _ in range(copies):
        stack.enter_context(process_room.counted())


def _direct_messages(node: str) -> list[tuple[list, dict]]:
    """The (args, kwargs) of the tasks waiting in `node`'s own queue."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    prefix = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    found = []
    for raw in client.lrange(f"{prefix}{node}.dq2", 0, -1):
        message = json.loads(raw)
        body = json.loads(base64.b64decode(message["body"]))
        found.append((body[0], body[1]))
    client.close()
    return found


def test_a_copy_beyond_what_its_process_calls_goes_to_the_process_with_the_most_room(rooms, settings):
    rooms("a@corrigo-test", 1)
    rooms("b@corrigo-test", 3)
    rooms("c@corrigo-test", 0)
    rooms(HERE, 5)  # its own room is not another's

    assert process_room.pass_on_target(running=2) is None  # exactly what it calls at once
    assert process_room.pass_on_target(running=3) == "b@corrigo-test"  # one more: the roomiest

    rooms("b@corrigo-test", 3, age=ROOM_FRESH_S + 1)  # b is gone: ignored, and dropped
    assert process_room.pass_on_target(running=3) == "a@corrigo-test"
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    assert sorted(client.hkeys(rooms_key())) == [b"a@corrigo-test", b"c@corrigo-test", HERE.encode()]

    rooms("a@corrigo-test", 1, age=ROOM_FRESH_S - 5)  # written just inside the window: still there
    assert process_room.pass_on_target(running=3) == "a@corrigo-test"

    # A copy waiting in the queue: every process has reserved all it can, none has room.
    client.rpush(django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] + _queue_keys("")[0], b"{}")
    assert process_room.pass_on_target(running=3) is None
    broker_flush()

    rooms("a@corrigo-test", 0)
    assert process_room.pass_on_target(running=3) is None  # nobody else has room
    assert process_room.roomiest() is None  # said so, not raised (max() of no room)
    rooms("a@corrigo-test", 1)
    settings.CORRIGO_LLM_CALL_SLOTS = 2  # one copy called at once: the second is beyond
    assert process_room.pass_on_target(running=1) is None
    assert process_room.pass_on_target(running=2) == "a@corrigo-test"
    settings.CORRIGO_LLM_CALL_SLOTS = 0  # calls not bounded: every copy calls at once
    assert process_room.pass_on_target(running=50) is None
    client.close()


def test_a_processs_room_is_the_copies_it_calls_at_once_less_the_copy_tasks_it_runs(rooms, settings):
    client = redis.Redis.from_url(django_settings.REDIS_URL)

    def written() -> int:
        return int(client.hget(rooms_key(), HERE).split()[0])

    with ExitStack() as stack:
        _running(stack, 1)
        assert written() == 1
        _running(stack, 2)
        assert written() == -1  # one copy more than it calls at once
    assert written() == 2

    process_room.forget()  # a warm shutdown: no longer offered
    assert client.hgetall(rooms_key()) == {}

    settings.CORRIGO_LLM_CALL_SLOTS = 0  # calls not bounded: no room to offer
    with process_room.counted():
        assert client.hgetall(rooms_key()) == {}
    settings.CORRIGO_LLM_CALL_SLOTS = 1  # a copy's two calls never go out at once: none to offer
    with process_room.counted():
        assert client.hgetall(rooms_key()) == {}
    settings.CORRIGO_LLM_CALL_SLOTS = 2  # one copy at once, the least room a process offers
    with process_room.counted():
        assert written() == 0
    assert written() == 1
    process_room.forget()
    settings.CORRIGO_LLM_CALL_SLOTS = 4

    process_room.node = None  # not a grading worker (a web process, a test): nothing written
    with process_room.counted() as running:
        assert running == 1
    assert client.hgetall(rooms_key()) == {}
    process_room.forget()
    client.close()


def test_a_process_shutting_down_withdraws_its_room_at_once_and_never_writes_it_again(rooms):
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    with ExitStack() as stack:
        _running(stack, 1)
        assert client.hexists(rooms_key(), HERE)
        process_room.close()  # SIGTERM: a warm shutdown begins while a copy is being graded
        deadline = Deadline(10)
        while client.hexists(rooms_key(), HERE):  # dropped by a thread of its own
            assert not deadline.expired()
            time.sleep(0.01)
    # The copy's end, and another task started meanwhile, no longer offer the process.
    with process_room.counted():
        pass
    process_room.write()
    assert client.hgetall(rooms_key()) == {}
    client.close()


def test_with_redis_out_of_reach_a_copy_stays_and_its_task_goes_on(rooms, settings):
    rooms("idle@corrigo-test", 3)
    reachable = settings.REDIS_URL, settings.CELERY_BROKER_URL
    closed = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there
    settings.REDIS_URL = settings.CELERY_BROKER_URL = closed
    try:
        with ExitStack() as stack:
            _running(stack, 3)  # its room not written: no error
            assert process_room.pass_on_target(running=3) is None
        process_room.forget()
    finally:
        settings.REDIS_URL, settings.CELERY_BROKER_URL = reachable


def test_a_copy_the_broker_refuses_to_pass_on_stays_and_the_refusal_is_logged(caplog):
    class Refused:  # the broker's side of apply_async: its connection refused
        def apply_async(self, *args, **kwargs):
            raise BrokerOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    assert copy_pass_on(Refused(), node="idle@corrigo-test", copy_id=7, job_id=3, attempt=1) is False
    [record] = [r for r in caplog.records if r.name == passing_on.__name__]
    assert (record.levelname, record.getMessage()) == ("WARNING", "copy 7 not passed on: the broker refused it")


@pytest.mark.mutation  # no provider wait: two one-question answers
def test_a_copy_passed_on_waits_untouched_in_that_process_queue_and_is_passed_on_once(
    rooms, llm_server, teacher, caplog
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    passed, retried, landed = (copy_with_pages(exam, pages=1) for _ in range(3))
    job = _job_create(exam=exam, user=teacher, copies=[passed, retried, landed], estimate_tokens=150_000)
    for copy in (passed, retried, landed):
        copy.refresh_from_db()  # its attempt, as the job gave it
    llm_server.script(grades_json([2, 3]), times=2)
    rooms("idle@corrigo-test", 2)
    caplog.set_level(logging.INFO, logger=passing_on.__name__)

    with ExitStack() as stack:
        _running(stack, 2)  # this process calls 2 copies at once: a third would wait
        assert copy_grade_task.apply((passed.pk, job.pk, passed.attempt)).get() == "passed on"
        # A retried task stays (its lease covers its countdown, it keeps its retries count), and a
        # copy passed on is graded where it lands: each is graded here, beyond this process's room.
        assert copy_grade_task.apply((retried.pk, job.pk, retried.attempt), retries=1).get() == Copy.Status.DONE
        assert copy_grade_task.apply((landed.pk, job.pk, landed.attempt), {"passed_on": True}).get() == (
            Copy.Status.DONE
        )

    assert _direct_messages("idle@corrigo-test") == [([passed.pk, job.pk, passed.attempt], {"passed_on": True})]
    assert [r.getMessage() for r in caplog.records if r.name == passing_on.__name__] == [
        f"copy {passed.pk} passed on to idle@corrigo-test"
    ]
    passed.refresh_from_db()
    assert passed.status == Copy.Status.QUEUED  # untouched: no hold, no call, no answer
    assert not ModelAnswer.objects.filter(copy=passed).exists()
    assert not UsageRecord.objects.filter(copy=passed).exists()
    assert UsageRecord.objects.count() == len(llm_server.requests) == 2


@pytest.mark.mutation  # no provider call
def test_the_reconciliation_finds_a_copy_passed_on_in_a_live_process_queue_and_rescues_it_once_that_process_is_gone(
    rooms, llm_server, teacher, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    with django_capture_on_commit_callbacks(execute=False):  # no message in the copy tasks' queue
        job = services.job_start(exam=exam, user=teacher)
    copy.refresh_from_db()
    rooms("busy@corrigo-test", 1)
    copy_grade_task.apply_async(
        (copy.pk, job.pk, copy.attempt), {"passed_on": True}, queue=worker_direct("busy@corrigo-test")
    )
    _quiet(copy)  # a lease length in its queue: its process has not taken it yet

    assert services.copies_reconcile() == services.Reconciled()  # waiting for a live process

    rooms("busy@corrigo-test", 1, age=ROOM_FRESH_S + 1)  # that process is gone
    with django_capture_on_commit_callbacks(execute=True):
        assert services.copies_reconcile() == services.Reconciled(requeued=1)
    assert broker_copy_ids(delivered_within=60) == {copy.pk}  # in the copy tasks' queue again
    assert Copy.objects.get(pk=copy.pk).requeues == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_with_room_grades_the_copy_passed_to_it_once(rooms, llm_server, teacher, settings, tmp_path):
    settings.CORRIGO_LLM_CALL_SLOTS = 2  # this process calls one copy at once
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job_create(exam=exam, user=teacher, copies=[copy], estimate_tokens=50_000)
    copy.refresh_from_db()
    broker_flush()  # the job's own message: the copy reaches the worker only if passed on
    llm_server.script(grades_json([2, 3]))
    worker = celery_worker_start(
        tmp_path, name="roomy", concurrency=2, CORRIGO_LLM_CALL_SLOTS="2", **roles_env(llm_server)
    )
    try:
        client = redis.Redis.from_url(django_settings.REDIS_URL)
        deadline = Deadline(30)
        while not (nodes := [n.decode() for n in client.hkeys(rooms_key()) if n.decode() != HERE]):
            assert not deadline.expired(), worker.log()[-3000:]  # written when the worker is ready
            time.sleep(0.05)
        client.close()
        [node] = nodes
        assert node.startswith("roomy@")

        with ExitStack() as stack:
            _running(stack, 1)
            assert copy_grade_task.apply((copy.pk, job.pk, copy.attempt)).get() == "passed on"

        deadline = Deadline(60)
        while Copy.objects.filter(pk=copy.pk, status=Copy.Status.DONE).count() == 0:
            assert not deadline.expired(), worker.log()[-3000:]
            time.sleep(0.1)
    finally:
        worker.stop()
    # Only that worker could grade it: its own queue held the one message naming the copy.
    assert _direct_messages(node) == []
    assert ModelAnswer.objects.filter(copy=copy).count() == 1
    assert UsageRecord.objects.filter(copy=copy).count() == len(llm_server.requests) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_told_to_stop_withdraws_its_room_before_its_copy_is_done(
    rooms, llm_server, teacher, settings, tmp_path
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    _job_create(exam=exam, user=teacher, copies=[copy], estimate_tokens=50_000)  # committed: its message queued
    llm_server.script(grades_json([2, 3]), latency=5)  # the copy is still in its call at SIGTERM
    env = roles_env(llm_server) | {"CORRIGO_LLM_TIMEOUT": "60"}  # the call waits its 5 s
    worker = celery_worker_start(tmp_path, name="stopping", concurrency=2, CORRIGO_LLM_CALL_SLOTS="2", **env)
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    try:
        deadline = Deadline(60)
        while not llm_server.requests:
            assert not deadline.expired(), worker.log()[-3000:]
            time.sleep(0.05)
        [node] = [n.decode() for n in client.hkeys(rooms_key()) if n.decode() != HERE]
        assert node.startswith("stopping@")

        worker.process.terminate()  # a warm shutdown: the copy in flight is finished first
        deadline = Deadline(10)
        while client.hexists(rooms_key(), node):
            assert not deadline.expired(), worker.log()[-3000:]
            time.sleep(0.02)
        assert not llm_server.requests[0].ended  # withdrawn while the copy was in its call

        worker.process.wait(timeout=Deadline(60).remaining())
    finally:
        worker.stop()
    assert Copy.objects.get(pk=copy.pk).status == Copy.Status.DONE, worker.log()[-4000:]
    assert client.hgetall(rooms_key()) == {}  # its copy's end did not offer it again
    client.close()
