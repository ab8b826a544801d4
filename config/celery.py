"""The Celery application: `celery -A config worker` / `celery -A config beat`."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("corrigo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids follow a request into the tasks it enqueues (see core.logging).
import core.logging  # noqa: E402,F401


@signals.task_prerun.connect
@signals.task_postrun.connect
def _db_connections_recycle(task=None, **_: object) -> None:
    """A worker thread keeps its database connection from one task to the next, under Django's
    own rules, as a request does: closed when it broke or outlived CONN_MAX_AGE, and checked
    before the next task's first query (CONN_HEALTH_CHECKS). Celery's Django fixup would close
    it before and after every task (settings.CELERY_DB_REUSE_MAX says why it no longer does).
    An eager task (run inside its caller) leaves its caller's connection alone."""
    from django import db

    if getattr(getattr(task, "request", None), "is_eager", False):
        return
    for conn in db.connections.all(initialized_only=True):
        if not conn.in_atomic_block:
            conn.close_if_unusable_or_obsolete()
