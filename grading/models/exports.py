"""Export files built in the background (the annotated PDFs' zip, a large class's tables) and
kept for their owner to download until they expire."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.i18n import text_load

from ..transitions import StatusTransitions
from .exams import Exam


def export_upload_to(instance: ExportFile, filename: str) -> str:
    # A random name, like every stored file: its URL never tells or enumerates another's.
    extension = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
    return f"exports/{uuid.uuid4().hex}.{extension}"


class ExportFile(StatusTransitions, models.Model):
    """One export asked for by the teacher: pending → running → done (its file) or failed (a
    reason). The file is deleted when it expires (services.exports_expire, in beat)."""

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"
        JSON = "json", "JSON"
        ZIP = "zip", _("PDF annotés (zip)")
        PRONOTE_CSV = "pronote-csv", _("CSV pour Pronote")
        PRONOTE_XLSX = "pronote-xlsx", _("XLSX pour Pronote")

    class Status(models.TextChoices):
        PENDING = "pending", _("En attente")
        RUNNING = "running", _("En préparation")
        DONE = "done", _("Prêt")
        FAILED = "failed", _("Échec")

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="export_files")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    fmt = models.CharField(_("format"), max_length=16, choices=Format.choices)
    scale = models.CharField(max_length=8, blank=True)  # Pronote's: "20" or "bareme"
    # The zip with each student's private link as a QR code: new links, open this many days.
    link_days = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(_("statut"), max_length=8, choices=Status.choices, default=Status.PENDING)
    file = models.FileField(upload_to=export_upload_to, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    failure_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("expire le"))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["exam", "-created_at"]), models.Index(fields=["expires_at"])]
        verbose_name = _("export")
        verbose_name_plural = _("exports")

    def __str__(self) -> str:
        return f"{self.exam_id} · {self.fmt} · {self.status}"

    @property
    def failure_text(self) -> str:
        """Why it failed, in the reader's language (stored as its French source, core.i18n)."""
        return text_load(self.failure_reason)

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
