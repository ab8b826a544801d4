"""A Celery worker thread keeps its database connection from one task to the next (CONN_MAX_AGE),
and replaces one the server dropped instead of failing the task (CONN_HEALTH_CHECKS):
config.celery, settings.CELERY_DB_REUSE_MAX. Celery's Django fixup alone closed it around
every task, whatever CONN_MAX_AGE said: a new connection (and a new PostgreSQL backend) per copy.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection

from tests.support.deadlines import wait_until
from tests.support.servers import celery_worker_start
from tests.support.tasks import db_backend_log

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _backend_of(worker, tag: str) -> int:
    pattern = re.compile(rf"db_backend {tag} (\d+)")
    found: list[int] = []

    def logged() -> bool:
        found[:] = [int(pid) for pid in pattern.findall(worker.log())]
        return bool(found)

    db_backend_log.delay(tag)
    wait_until(logged, base=20, what=f"the task {tag} run by the worker")
    return found[0]


def test_a_worker_keeps_its_connection_between_tasks_and_replaces_a_dropped_one(tmp_path):
    worker = celery_worker_start(tmp_path, concurrency=1, CONN_MAX_AGE="600")
    try:
        first = _backend_of(worker, "first")
        assert _backend_of(worker, "second") == first

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [first])
        replaced = _backend_of(worker, "third")
        assert replaced != first
        assert _backend_of(worker, "fourth") == replaced
    finally:
        worker.stop()


def test_without_conn_max_age_each_task_has_a_connection_of_its_own(tmp_path):
    worker = celery_worker_start(tmp_path, concurrency=1, CONN_MAX_AGE="0")
    try:
        assert _backend_of(worker, "first") != _backend_of(worker, "second")
    finally:
        worker.stop()
