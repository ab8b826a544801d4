from __future__ import annotations

from celery import shared_task

from .services import usage_reservations_expire


@shared_task(name="usage.reservations_expire", ignore_result=True)
def usage_reservations_expire_task() -> int:
    """Beat: frees the tokens held by jobs whose worker was lost (see CELERY_BEAT_SCHEDULE)."""
    return usage_reservations_expire()
