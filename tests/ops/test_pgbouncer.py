"""Django and the Celery workers behind a real PgBouncer in transaction pooling, as
docker/compose.yml runs them: Debian's PgBouncer, started by the test on a port of its own in
front of the test database's PostgreSQL, with fewer server connections than worker threads,
so consecutive transactions of one worker connection land on different server connections.

What breaks there without DATABASE_POOLER=pgbouncer: a server-side cursor (QuerySet.iterator())
is declared on one server connection and fetched from another ("cursor … does not exist").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from grading import services
from grading.models import Copy, GradingJob
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env
from tests.support.deadlines import scaled, wait_until
from tests.support.servers import celery_worker_start, free_port, service_env, wait_for_port
from usage.models import UsageRecord

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 2
WORKER_THREADS = 4


@pytest.fixture
def pgbouncer(transactional_db, tmp_path):
    """PgBouncer in transaction pooling on a free port, in front of the test database."""
    if not Path(PGBOUNCER).exists():
        pytest.skip("PgBouncer is not installed: `make test-deps` installs Debian's package pgbouncer")
    conf = connection.settings_dict
    user = conf.get("USER") or "postgres"
    password = conf.get("PASSWORD") or ""
    work = tmp_path / "pgbouncer"
    work.mkdir()
    port = free_port()
    login = f"user={user}" + (f" password={password}" if password else "")
    (work / "pgbouncer.ini").write_text(
        f"""[databases]
{conf["NAME"]} = host={conf.get("HOST") or "127.0.0.1"} port={conf.get("PORT") or 5432} {login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
admin_users = {user}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
"""
    )
    argv = [PGBOUNCER, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:
        argv[1:1] = ["-u", "postgres"]  # PgBouncer refuses to run as root; it logs to stderr
    log = work / "pgbouncer.log"
    process = subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_for_port(port, process=process)
    except Exception:
        process.kill()
        raise RuntimeError(f"PgBouncer did not start:\n{log.read_text()}") from None
    yield {"port": port, "user": user, "name": conf["NAME"], "url": _url(conf, port)}
    process.terminate()
    process.wait(timeout=30)


def _url(conf: dict, port: int) -> str:
    user = conf.get("USER") or "postgres"
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    return f"postgres://{user}{password}@127.0.0.1:{port}/{conf['NAME']}"


def _stats(pgbouncer: dict) -> dict:
    """PgBouncer's own counters for the test database (its admin console, simple protocol)."""
    with psycopg.connect(
        host="127.0.0.1", port=pgbouncer["port"], dbname="pgbouncer", user=pgbouncer["user"], autocommit=True
    ) as admin:
        cursor = psycopg.ClientCursor(admin)
        cursor.execute("SHOW STATS")
        columns = [column.name for column in cursor.description]
        rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    return next(row for row in rows if row["database"] == pgbouncer["name"])


def test_workers_grade_a_class_through_pgbouncer_in_transaction_pooling(pgbouncer, llm_server, teacher, tmp_path):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copies = [copy_with_pages(exam, pages=2, label=f"Élève {n}") for n in range(8)]
    env = {
        **roles_env(llm_server),
        "DATABASE_URL": pgbouncer["url"],
        "DATABASE_POOLER": "pgbouncer",
        "CONN_MAX_AGE": "600",  # as config.workers runs them: one client connection per thread, kept
    }
    worker = celery_worker_start(tmp_path, concurrency=WORKER_THREADS, **env)
    try:
        job = services.job_start(exam=exam, user=teacher)
        wait_until(
            lambda: GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED,
            base=120,
            what=f"the job to finish through PgBouncer\n{worker.log()[-3000:]}",
        )
    finally:
        worker.stop()

    statuses = dict(Copy.objects.filter(exam=exam).values_list("student_label", "status"))
    assert statuses == {copy.student_label: Copy.Status.DONE for copy in copies}, worker.log()[-3000:]
    # Every call paid for is in the ledger, once (no transaction lost or replayed).
    assert UsageRecord.objects.filter(exam_id=exam.pk).count() == len(llm_server.requests)
    log = worker.log()
    assert "prepared statement" not in log and "does not exist" not in log
    assert "Traceback" not in log, log[-3000:]
    # The worker's transactions went through PgBouncer (more than one per copy).
    assert _stats(pgbouncer)["total_xact_count"] > len(copies)


# Run by a Django process whose DATABASE_URL is PgBouncer: it walks a queryset with
# .iterator() while another client holds, inside a transaction, the server connection the walk
# used last, so the walk's next fetch runs on another server connection.
ITERATE = """
import sys, django, psycopg
django.setup()
from grading.models import Copy
rows = Copy.objects.filter(exam_id=int(sys.argv[1])).order_by("pk").iterator(chunk_size=1)
labels = [next(rows).student_label]
with psycopg.connect(sys.argv[2], autocommit=True) as other:
    other.execute("BEGIN")
    other.execute("SELECT 1")
    labels += [copy.student_label for copy in rows]
print(",".join(labels))
"""


def _iterate(pgbouncer: dict, exam_id: int, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", ITERATE, str(exam_id), pgbouncer["url"].replace("postgres://", "postgresql://")],
        env={**service_env(DATABASE_URL=pgbouncer["url"]), **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=scaled(60),
    )


def test_a_queryset_walked_with_iterator_survives_transaction_pooling(pgbouncer, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    for n in range(4):
        copy_with_pages(exam, pages=1, label=f"Élève {n}")

    pooled = _iterate(pgbouncer, exam.pk, DATABASE_POOLER="pgbouncer")
    assert pooled.returncode == 0, pooled.stderr[-3000:]
    assert pooled.stdout.strip() == "Élève 0,Élève 1,Élève 2,Élève 3"
    # The control: with a server-side cursor the walk loses it on the other server connection.
    direct = _iterate(pgbouncer, exam.pk, DATABASE_POOLER="")
    assert direct.returncode != 0 and "does not exist" in direct.stderr, direct.stdout + direct.stderr[-3000:]
