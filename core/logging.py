"""Request ids: set per HTTP request, logged on every line, carried into Celery tasks.

The id lives in a context variable. A task enqueued while handling a request carries it
in its message headers; the worker restores it before the task runs, so the worker's log
lines for that task carry the id of the request that caused them.
"""

from __future__ import annotations

import contextvars
import logging
import uuid

from celery import signals

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
HEADER = "corrigo_request_id"


def request_id_new() -> str:
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


@signals.before_task_publish.connect
def _request_id_to_headers(headers: dict | None = None, **_: object) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id:
        headers[HEADER] = request_id


@signals.task_prerun.connect
def _request_id_from_headers(task=None, **_: object) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, HEADER, None) or (getattr(request, "headers", None) or {}).get(HEADER)
    request_id_var.set(request_id)


@signals.task_postrun.connect
def _request_id_clear(**_: object) -> None:
    request_id_var.set(None)
