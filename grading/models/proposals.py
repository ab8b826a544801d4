"""The detection model's proposals read from a PDF by a task, never in a web request: a barème
from the subject, or how a whole-class PDF splits into copies. A proposal goes pending →
running → ready (its rows) or failed (its reason, for the teacher); at most one per subject /
class PDF is in flight (a constraint), so a second click waits for the first instead of paying
again."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.i18n import text_dump, text_load

from ..transitions import StatusTransitions
from .exams import Exam, SourceFile

# A task renders at most 120 pages in the sandbox (bounded by PDF_SANDBOX_WALL_S) and makes two
# calls at most (bounded by CORRIGO_LLM_TIMEOUT): a proposal still in flight after this lost its
# worker or its message, and is told as interrupted rather than awaited for ever.
PROPOSAL_STALE_AFTER = timedelta(minutes=15)


class Proposal(StatusTransitions, models.Model):
    class Kind(models.TextChoices):
        BAREME = "bareme", _("barème")
        SPLIT = "split", _("découpage")

    class Status(models.TextChoices):
        PENDING = "pending", _("en attente")
        RUNNING = "running", _("en cours")
        READY = "ready", _("prête")
        FAILED = "failed", _("en échec")

    IN_FLIGHT = (Status.PENDING, Status.RUNNING)

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="proposals")
    source = models.ForeignKey(SourceFile, on_delete=models.CASCADE, null=True, blank=True, related_name="proposals")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    file_name = models.CharField(max_length=255)  # the stored PDF the task reads
    sha256 = models.CharField(max_length=64, blank=True)
    rows = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("proposition")
        verbose_name_plural = _("propositions")
        constraints = [
            models.UniqueConstraint(
                fields=["exam"],
                condition=Q(kind="bareme", status__in=["pending", "running"]),
                name="grading_proposal_one_bareme_in_flight",
            ),
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(kind="split", status__in=["pending", "running"]),
                name="grading_proposal_one_split_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.pk} ({self.status})"

    @property
    def in_flight(self) -> bool:
        return self.status in self.IN_FLIGHT

    def stale(self, *, now: datetime | None = None) -> bool:
        """In flight and untouched for more than PROPOSAL_STALE_AFTER: its worker was lost."""
        return self.in_flight and self.updated_at < (now or timezone.now()) - PROPOSAL_STALE_AFTER

    @property
    def waiting(self) -> bool:
        """In flight and not lost: its page keeps polling."""
        return self.in_flight and not self.stale()

    def claim(self, *, now: datetime | None = None) -> bool:
        """Pending → running for one task only; a stale running one (its worker died) may be
        taken again. A second delivery of the same message gets False and does nothing."""
        now = now or timezone.now()
        stale = Q(status=self.Status.RUNNING, updated_at__lt=now - PROPOSAL_STALE_AFTER)
        rows = type(self)._default_manager.filter(pk=self.pk).filter(Q(status=self.Status.PENDING) | stale)
        return self._transition(rows, self.IN_FLIGHT, self.Status.RUNNING, {"updated_at": now})

    def finish(self, rows: list[dict]) -> bool:
        return self.transition(
            source=[self.Status.RUNNING], target=self.Status.READY, rows=rows, updated_at=timezone.now()
        )

    def fail(self, reason: str) -> bool:
        return self.transition(
            source=self.IN_FLIGHT,
            target=self.Status.FAILED,
            failure_reason=text_dump(reason, limit=2000),
            updated_at=timezone.now(),
        )

    def failure_text(self) -> str:
        """Why it failed, for the teacher; a stale one was interrupted (its worker was lost)."""
        if self.stale():
            return gettext("La lecture a été interrompue avant sa fin : relancez-la.")
        return text_load(self.failure_reason)

    def bareme_rows(self) -> list[dict]:
        """The proposed questions as the barème form takes them (points stored as text)."""
        return [
            {"label": row["label"], "max_points": Decimal(row["max_points"]), "criteria": row.get("criteria", "")}
            for row in self.rows
        ]
