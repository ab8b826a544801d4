"""Grading's reactions to other apps' signals (connected in GradingConfig.ready)."""

from __future__ import annotations

from celery.signals import worker_ready, worker_shutdown, worker_shutting_down
from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import School, SchoolMembership
from usage.services import allowance_changed, allowance_released

from .engine.warmup import llm_warm
from .services.deferred import deferred_resume_soon, released_resume_soon, school_deferred_resume_soon
from .services.passing_on import process_room


@worker_ready.connect
def on_worker_ready(sender, **kwargs) -> None:
    # A worker that grades (the default queue) imports litellm now rather than at its first
    # copy; the render process asks no model and never loads it (settings.RENDER_TASKS).
    queues = {queue.name for queue in getattr(getattr(sender, "task_consumer", None), "queues", ())}
    if settings.CELERY_TASK_DEFAULT_QUEUE in queues:
        llm_warm()
        process_room.beat(node=sender.hostname)  # its room offered to the other grading processes (services.passing_on)


@worker_shutting_down.connect
def on_worker_shutting_down(sender, **kwargs) -> None:
    process_room.close()  # takes no more copies: none passed on to it (services.passing_on)


@worker_shutdown.connect
def on_worker_shutdown(sender, **kwargs) -> None:
    process_room.forget()


@receiver(allowance_changed)
def on_allowance_changed(sender, user, **kwargs) -> None:
    # A plan change may bring room for copies a partial launch left waiting.
    deferred_resume_soon(user=user)


@receiver(allowance_released)
def on_allowance_released(sender, key: str, user_id: int, school_id: int | None, **kwargs) -> None:
    # A job's reservation settled (finished, cancelled, expired): what it held and did not spend
    # may take copies waiting on the same pool — its teacher's, or any teacher's of its school.
    released_resume_soon(key=key, user_id=user_id, school_id=school_id)


@receiver(post_save, sender=School)
def on_school_saved(sender, instance: School, **kwargs) -> None:
    # The school's pool changed (its subscription through billing, or the operator in the admin):
    # its teachers' waiting copies start if it takes them.
    school_deferred_resume_soon(school=instance)


@receiver(post_save, sender=SchoolMembership)
def on_membership_saved(sender, instance: SchoolMembership, created: bool, **kwargs) -> None:
    # A teacher joined a school (an invitation accepted, or the operator in the admin): they
    # now spend its pool, which may take the copies their own allowance left waiting.
    if created and instance.left_at is None:
        deferred_resume_soon(user=instance.user)
