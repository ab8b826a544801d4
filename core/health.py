"""Checks behind /health: database, Redis, a Celery worker."""

from __future__ import annotations

import logging

import redis
from celery import current_app
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)


def _database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # any failure means "down", the reason goes to the log
        logger.warning("health: database check failed", exc_info=True)
        return False


def _redis() -> bool:
    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        return bool(client.ping())
    except Exception:
        logger.warning("health: redis check failed", exc_info=True)
        return False


def _celery_worker() -> bool:
    try:
        replies = current_app.control.ping(timeout=settings.HEALTH_CELERY_TIMEOUT)
    except Exception:
        logger.warning("health: celery ping failed", exc_info=True)
        return False
    return bool(replies)


def health_status() -> dict[str, str]:
    database = _database()
    redis_up = _redis()
    # Without Redis there is no broker to reach a worker through: don't wait for a ping.
    worker = redis_up and _celery_worker()
    return {
        "database": "up" if database else "down",
        "redis": "up" if redis_up else "down",
        "celery": "up" if worker else "down",
    }
