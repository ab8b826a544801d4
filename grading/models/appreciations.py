"""« Rédiger les appréciations manquantes »: one background pass over an exam's copies."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.i18n import text_load

from .exams import Exam


class AppreciationRun(models.Model):
    """Drafts the appréciation of every graded copy that has none (never drafted, never written
    by the teacher), one metered call each, in a Celery task. At most one runs per exam (the
    constraint below): a second click finds it. `message` is kept as its source (core.i18n): read
    in the reader's language through `message_text`."""

    class Status(models.TextChoices):
        RUNNING = "running", _("En cours")
        DONE = "done", _("Terminée")
        STOPPED = "stopped", _("Arrêtée")  # the allowance ran out, the model failed, the worker was lost

    # A running pass writes after each copy: silent longer than this, its worker was lost.
    SILENT_MAX = timedelta(minutes=15)

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="appreciation_runs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    total = models.PositiveIntegerField(default=0)  # copies without an appréciation at the start
    drafted = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("rédaction des appréciations")
        verbose_name_plural = _("rédactions des appréciations")
        constraints = [
            models.UniqueConstraint(
                fields=["exam"], condition=models.Q(status="running"), name="one_running_appreciation_run_per_exam"
            )
        ]

    def __str__(self) -> str:
        return f"{self.exam} · {self.drafted}/{self.total}"

    @property
    def message_text(self) -> str:
        return text_load(self.message)

    @property
    def running(self) -> bool:
        return self.status == self.Status.RUNNING

    def lost(self) -> bool:
        return self.running and self.updated_at < timezone.now() - self.SILENT_MAX

    @property
    def in_progress(self) -> bool:
        """Running and not taken for lost: the page polls it and offers no new pass meanwhile."""
        return self.running and not self.lost()
