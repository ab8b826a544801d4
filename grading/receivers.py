"""Grading's reactions to other apps' signals (connected in GradingConfig.ready)."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.models import School, SchoolMembership
from usage.services import allowance_changed

from .services.deferred import deferred_resume_soon, school_deferred_resume_soon


@receiver(allowance_changed)
def on_allowance_changed(sender, user, **kwargs) -> None:
    # A plan change may bring room for copies a partial launch left waiting.
    deferred_resume_soon(user=user)


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
