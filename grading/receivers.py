"""Grading's reactions to other apps' signals (connected in GradingConfig.ready)."""

from __future__ import annotations

from django.dispatch import receiver

from usage.services import allowance_changed

from .services.deferred import deferred_resume_soon


@receiver(allowance_changed)
def on_allowance_changed(sender, user, **kwargs) -> None:
    # A plan change may bring room for copies a partial launch left waiting.
    deferred_resume_soon(user=user)
