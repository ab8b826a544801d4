"""The Celery application: `celery -A config worker` / `celery -A config beat`."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("corrigo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Request ids follow a request into the tasks it enqueues (see core.logging).
import core.logging  # noqa: E402,F401
