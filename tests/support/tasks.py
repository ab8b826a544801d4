"""Tasks that exist only for tests; test workers load them with `-I tests.support.tasks`."""

from __future__ import annotations

import logging
import os

from celery import shared_task

from core.realtime import realtime_send

logger = logging.getLogger("tests.support.tasks")


@shared_task
def realtime_echo(group: str, html: str) -> None:
    logger.info("realtime_echo sending to %s", group)
    realtime_send(group, html=html, data={"echo": html})


@shared_task
def db_backend_log(tag: str) -> None:
    """Logs the PostgreSQL backend this worker thread's connection is served by."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    logger.info("db_backend %s %s", tag, pid)


if os.environ.get("CORRIGO_COUNT_QUERIES"):
    # The export bench (tests/bench/export.py) reads each task's database queries from the log.
    from celery.signals import task_postrun, task_prerun
    from django.db import connection

    _counting: dict[str, tuple] = {}

    @task_prerun.connect
    def _queries_count_start(task_id=None, **_kwargs) -> None:
        calls: list[str] = []

        def count(execute, sql, params, many, context):
            calls.append(sql)
            return execute(sql, params, many, context)

        wrapper = connection.execute_wrapper(count)
        wrapper.__enter__()
        _counting[task_id] = (wrapper, calls)

    @task_postrun.connect
    def _queries_count_end(task_id=None, task=None, **_kwargs) -> None:
        wrapper, calls = _counting.pop(task_id, (None, []))
        if wrapper is not None:
            wrapper.__exit__(None, None, None)
            print(f"task_queries {task.name if task else '?'} {len(calls)}", flush=True)  # noqa: T201
