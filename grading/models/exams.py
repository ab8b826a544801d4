"""Exams, their barème, copies, pages and grading jobs (their states: see grading.models)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.i18n import text_load

from ..transitions import StatusTransitions


def _upload_name(prefix: str, extension: str) -> str:
    # Unguessable names: a file's URL never reveals or enumerates another teacher's files.
    return f"{prefix}/{uuid.uuid4().hex}{extension}"


def source_upload_to(instance: models.Model | None, filename: str | None) -> str:
    """A random name: neither the row nor the teacher's file name is used (services call it
    with neither when they store a file themselves)."""
    return _upload_name("sources", ".pdf")


def page_upload_to(instance: models.Model, filename: str) -> str:
    return _upload_name("pages", ".jpg")


class Exam(StatusTransitions, models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Brouillon")  # never graded
        GRADING = "grading", _("Correction en cours")  # a job is running
        GRADED = "graded", _("Corrigée")  # its last job finished
        CANCELLED = "cancelled", _("Annulée")  # its last job was cancelled

    # What a job start may leave for "grading" (a running job already holds it).
    STARTABLE = (Status.DRAFT, Status.GRADED, Status.CANCELLED)

    class Mode(models.TextChoices):
        SINGLE = "single", _("Un modèle")
        DOUBLE = "double", _("Double correction")

    class Language(models.TextChoices):
        FR = "fr", _("Français")
        EN = "en", _("Anglais")

    ROUNDING_CHOICES = [
        (Decimal("0.25"), _("0,25 point")),
        (Decimal("0.5"), _("0,5 point")),
        (Decimal("1"), _("1 point")),
    ]

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exams")
    title = models.CharField(_("titre"), max_length=200)
    subject = models.CharField(_("matière"), max_length=100, blank=True)
    level = models.CharField(_("niveau"), max_length=100, blank=True)
    language = models.CharField(_("langue"), max_length=2, choices=Language.choices, default=Language.FR)
    mode = models.CharField(_("mode de correction"), max_length=10, choices=Mode.choices, default=Mode.SINGLE)
    rounding_step = models.DecimalField(
        _("arrondi"), max_digits=4, decimal_places=2, choices=ROUNDING_CHOICES, default=Decimal("0.5")
    )
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    # The subject / corrigé the teacher uploaded (optional): its pages join the static prefix.
    subject_file = models.FileField(_("sujet / corrigé"), upload_to=source_upload_to, blank=True)
    instructions = models.TextField(_("consignes de correction"), blank=True)
    school_class = models.ForeignKey(
        "rosters.SchoolClass", models.SET_NULL, null=True, blank=True, related_name="exams", verbose_name=_("classe")
    )
    # Grading calls get page 1 with its name band blanked once the name has been read (issue 13).
    mask_names = models.BooleanField(_("masquer les noms"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # When the students' files were deleted (grading.retention): grades and exports stay.
    files_purged_at = models.DateTimeField(_("fichiers supprimés le"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        verbose_name = _("correction")
        verbose_name_plural = _("corrections")

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveIntegerField(default=0)
    label = models.CharField(_("intitulé"), max_length=300)
    max_points = models.DecimalField(_("points"), max_digits=6, decimal_places=2)
    criteria = models.TextField(_("réponse attendue / critères"), blank=True)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")

    def __str__(self) -> str:
        return self.label


class SourceFile(models.Model):
    """An uploaded PDF: one student's copy, or a whole class to split."""

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="sources")
    file = models.FileField(upload_to=source_upload_to)
    original_name = models.CharField(max_length=255)
    page_count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("fichier déposé")
        verbose_name_plural = _("fichiers déposés")

    def __str__(self) -> str:
        return self.original_name


class Copy(StatusTransitions, models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("En attente")
        GRADING = "grading", _("Correction")
        VERIFYING = "verifying", _("Vérification")
        DONE = "done", _("Terminée")
        FAILED = "failed", _("Échec")
        CANCELLED = "cancelled", _("Annulée")
        QUOTA_REACHED = "quota_reached", _("Quota atteint")
        # Left out of a partial launch: starts when the allowance comes back (services.deferred).
        DEFERRED = "deferred", _("En attente d'allocation")

    RERUNNABLE = (Status.FAILED, Status.QUOTA_REACHED, Status.CANCELLED)
    # What a job start takes: copies never graded, those queued for later, and those a re-run may retry.
    STARTABLE = (Status.QUEUED, Status.DEFERRED, *RERUNNABLE)
    # What the teacher may send back to grading from the copy page ("Corriger à nouveau").
    REGRADABLE = (*RERUNNABLE, Status.DEFERRED, Status.DONE)

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="copies")
    student_label = models.CharField(_("élève"), max_length=200)
    source = models.ForeignKey(SourceFile, on_delete=models.SET_NULL, null=True, blank=True, related_name="copies")
    first_page = models.PositiveIntegerField(default=1)  # 1-based, in the source file
    last_page = models.PositiveIntegerField(default=1)
    status = models.CharField(_("statut"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    failure_reason = models.TextField(_("raison de l'échec"), blank=True)
    flagged_manipulation = models.BooleanField(default=False)
    manipulation_reason = models.TextField(blank=True)
    reviewed = models.BooleanField(default=False)
    # The general appréciation: the teacher's text (what exports show), the grading model's draft
    # (restorable), and whether points changed since the draft was written ("possibly stale").
    appreciation = models.TextField(_("appréciation"), blank=True)
    appreciation_ai = models.TextField(blank=True)
    appreciation_stale = models.BooleanField(default=False)
    # « Corriger à nouveau » with "replace my edits" ticked: this attempt's grades replace the
    # teacher's edited points, feedback and appréciation (else they are kept).
    regrade_overwrite = models.BooleanField(default=False)
    # The roster student the name read on the copy was matched to (or the teacher chose), with
    # the name as read and the match's score (0-100, rapidfuzz; None when nobody chose).
    student = models.ForeignKey("rosters.Student", models.SET_NULL, null=True, blank=True, related_name="copies")
    read_name = models.CharField(_("nom lu"), max_length=200, blank=True)
    match_score = models.FloatField(null=True, blank=True)
    # The grading job of the current (or last) run: a job is done when all its copies are.
    job = models.ForeignKey(
        "grading.GradingJob", on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    # Bumped on every (re-)run, so the ledger's idempotency keys of a re-run are new ones
    # while a redelivered task of the same run reuses the same keys.
    attempt = models.PositiveIntegerField(default=0)
    # The lease of the task grading it (services.leases): which task execution holds the copy
    # and until when; a lapsed lease means its worker is gone (services.reconcile).
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    requeues = models.PositiveSmallIntegerField(default=0)  # by the reconciliation, this attempt
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("copie")
        verbose_name_plural = _("copies")
        # The copies not settled yet, a few among all the copies ever graded: the beat's scans
        # (services.reconcile every minute, services.deferred every 15 min) read them here
        # instead of the whole table (2 million copies, 20 days at 10×: a 142 ms sequential
        # scan a minute, growing with the table; issue 18).
        indexes = [
            models.Index(
                fields=["status", "exam"],
                condition=models.Q(status__in=["queued", "grading", "verifying", "deferred"]),
                name="copy_unsettled",
            )
        ]

    def __str__(self) -> str:
        return self.student_label

    @property
    def failure_text(self) -> str:
        """Why it failed, in the reader's language (stored as its French source, core.i18n)."""
        return text_load(self.failure_reason)

    @property
    def manipulation_text(self) -> str:
        return text_load(self.manipulation_reason)

    def transition(self, *, source: Iterable[str], target: str, where: models.Q | None = None, **fields: Any) -> bool:
        """StatusTransitions.transition; with `where`, only if the row still matches it too (the
        state a caller such as the reconciliation read, so a copy that moved since is left alone)."""
        # update() skips auto_now: the reconciliation dates a queued copy from its last change.
        fields.setdefault("updated_at", timezone.now())
        rows = Copy.objects.filter(pk=self.pk)
        if where is not None:
            rows = rows.filter(where)
        return self._transition(rows, source, target, fields)


class Page(models.Model):
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="pages")
    index = models.PositiveIntegerField()  # 1-based within the copy
    image = models.FileField(upload_to=page_upload_to)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    text = models.TextField(blank=True)  # the PDF's text layer, when present

    class Meta:
        ordering = ["index"]
        constraints = [models.UniqueConstraint(fields=["copy", "index"], name="page_unique_index")]
        verbose_name = _("page")
        verbose_name_plural = _("pages")

    def __str__(self) -> str:
        return f"{self.copy} · p. {self.index}"


class GradingJob(StatusTransitions, models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("En cours")
        FINISHED = "finished", _("Terminé")
        CANCELLED = "cancelled", _("Annulé")

    exam = models.ForeignKey(Exam, on_delete=models.CASCADE, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("lancé par")
    )
    status = models.CharField(_("statut"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    total_copies = models.PositiveIntegerField(_("copies"), default=0)
    estimated_tokens = models.PositiveBigIntegerField(_("jetons estimés"), default=0)
    reservation_key = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(_("lancé le"), auto_now_add=True)
    finished_at = models.DateTimeField(_("terminé le"), null=True, blank=True)
    # Started by a copy the teacher sent back from its page (services.copy_rerun; copies sent back
    # while it runs join it): their pages say how it went, no « correction terminée » email
    # (services.events.job_finished_notify).
    regrade = models.BooleanField(_("une copie corrigée à nouveau"), default=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # One running job per exam at a time.
            models.UniqueConstraint(
                fields=["exam"], condition=models.Q(status="running"), name="gradingjob_one_running_per_exam"
            )
        ]
        verbose_name = _("travail de correction")
        verbose_name_plural = _("travaux de correction")

    def __str__(self) -> str:
        return f"{self.exam} · {self.get_status_display()}"
