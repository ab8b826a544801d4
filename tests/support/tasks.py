"""Tasks that exist only for tests; test workers load them with `-I tests.support.tasks`."""

from __future__ import annotations

import logging

from celery import shared_task

from core.realtime import realtime_send

logger = logging.getLogger("tests.support.tasks")


@shared_task
def realtime_echo(group: str, html: str) -> None:
    logger.info("realtime_echo sending to %s", group)
    realtime_send(group, html=html, data={"echo": html})
