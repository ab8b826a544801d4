"""Grades, the models' answers they came from, and the teacher's edits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.i18n import text_load

from ..engine.schema import CopyGrades
from .exams import Copy, Question


class Grade(models.Model):
    class Resolution(models.TextChoices):
        SINGLE = "single", _("Un seul modèle")
        AGREED = "agreed", _("Accord des deux modèles")
        VERIFIED = "verified", _("Accord après vérification")
        AVERAGED = "averaged", _("Désaccord : moyenne")
        PENDING = "pending", _("À noter par l'enseignant")  # a question added after grading

    # Reached by two graders: the teacher may take either one's points or their mean instead.
    DOUBLE_RESOLUTIONS = frozenset({Resolution.AGREED, Resolution.VERIFIED, Resolution.AVERAGED})

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="grades")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="grades")
    points = models.DecimalField(max_digits=6, decimal_places=2)  # final (teacher's edit when any)
    ai_points = models.DecimalField(max_digits=6, decimal_places=2)  # as the engine decided
    max_points = models.DecimalField(max_digits=6, decimal_places=2)
    reading = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    feedback = models.TextField(blank=True)  # to the student: the teacher's text when edited
    ai_feedback = models.TextField(blank=True)  # as the engine wrote it (restorable)
    confidence = models.FloatField(default=0.0)
    disagreement = models.BooleanField(default=False)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, default=Resolution.SINGLE)
    edited = models.BooleanField(default=False)
    # "À revoir": the question's points changed after grading and the teacher kept the grade.
    needs_review = models.BooleanField(default=False)
    # The teacher changed the points, left the engine's feedback as it was and confirmed it
    # (« Garder le commentaire »); a later change of points asks again (FEEDBACK_STALE).
    feedback_kept = models.BooleanField(default=False)
    # How the engine reached `ai_points`: each model's answer per phase and the resolution.
    audit = models.JSONField(default=dict, blank=True)
    # Where the engine read the answer: the copy's page (1-based) and the vertical span on it
    # (0 top … 1 bottom); the annotated PDF prints the comment there. None: not said.
    page = models.PositiveSmallIntegerField(null=True, blank=True)
    span_top = models.FloatField(null=True, blank=True)
    span_bottom = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["question__order", "question_id"]
        constraints = [
            models.UniqueConstraint(fields=["copy", "question"], name="grade_unique_copy_question"),
            # A grade never exceeds the maximum it is out of (barème changes rescale or cap it).
            models.CheckConstraint(
                condition=models.Q(points__gte=0, points__lte=models.F("max_points"))
                & models.Q(ai_points__gte=0, ai_points__lte=models.F("max_points")),
                name="grade_points_within_max",
            ),
            models.CheckConstraint(
                condition=models.Q(span_top__isnull=True, span_bottom__isnull=True)
                | models.Q(page__gte=1, span_top__gte=0, span_top__lte=models.F("span_bottom"), span_bottom__lte=1),
                name="grade_span_within_page",
            ),
        ]
        verbose_name = _("note")
        verbose_name_plural = _("notes")

    def __str__(self) -> str:
        return f"{self.copy} · {self.question} : {self.points}/{self.max_points}"

    @property
    def feedback_edited(self) -> bool:
        return self.feedback != self.ai_feedback

    @property
    def double_corrected(self) -> bool:
        return self.resolution in self.DOUBLE_RESOLUTIONS


class ModelAnswer(models.Model):
    """One model call for a copy (slot, phase, repair or not): the audit of how grades were
    reached, replayed by a retried task instead of paying again. `parsed` holds the validated
    answer (CopyGrades as JSON), `error` why it was unusable: read it through `get_grades()`."""

    class Phase(models.TextChoices):
        GRADING = "grading", _("Correction")
        VERIFICATION = "verification", _("Vérification")

    class Slot(models.TextChoices):
        A = "a", _("Correcteur A")
        B = "b", _("Correcteur B")

    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="model_answers")
    attempt = models.PositiveIntegerField(default=0)
    phase = models.CharField(max_length=12, choices=Phase.choices)
    slot = models.CharField(max_length=1, choices=Slot.choices)
    # The second call of a phase, asked to fix an unusable first answer.
    repair = models.BooleanField(default=False)
    model = models.CharField(max_length=200)
    raw = models.TextField(blank=True)
    parsed = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["copy", "attempt", "phase", "slot", "repair"], name="modelanswer_unique_call"
            )
        ]
        verbose_name = _("réponse d'un modèle")
        verbose_name_plural = _("réponses des modèles")

    def __str__(self) -> str:
        parts = [self.copy, self.get_phase_display(), self.get_slot_display()]
        if self.repair:
            parts.append(_("réparation"))
        return " · ".join(str(part) for part in parts)

    def get_grades(self) -> CopyGrades | None:
        """The model's validated answer, or None when it was unusable (`error` says why)."""
        if self.parsed is None:
            return None
        return CopyGrades.model_validate(self.parsed)

    @property
    def error_text(self) -> str:
        """Why the answer was unusable, in the reader's language (kept as its source, core.i18n)."""
        return text_load(self.error)


# The engine's feedback on an answer whose points the teacher changed (and whose feedback they
# neither edited nor kept): it may praise what the points no longer do (« Très bien. » beside
# 1,5/3,5), so it is flagged for review and left out of exports and annotated PDFs. A database
# expression, so the grid (which defers ai_feedback) flags it without a query per cell.
FEEDBACK_STALE = models.ExpressionWrapper(
    models.Q(edited=True, feedback_kept=False, feedback=models.F("ai_feedback")) & ~models.Q(ai_feedback=""),
    output_field=models.BooleanField(),
)


def feedback_shown(grade: Grade) -> str:
    """The feedback exports and annotated PDFs print: none while it is stale (`feedback_stale`
    annotated from FEEDBACK_STALE by the selectors)."""
    return "" if getattr(grade, "feedback_stale", False) else grade.feedback


class GradeEdit(models.Model):
    """A teacher's change to a grade: who, when, what (field, action), before, after."""

    class Action(models.TextChoices):
        EDIT = "edit", _("Modification")
        RESTORE = "restore", _("Retour à l'IA")
        RESCALE = "rescale", _("Barème changé : mise à l'échelle")
        KEEP = "keep", _("Barème changé : note gardée, à revoir")
        REGRADE = "regrade", _("Nouvelle correction : modification remplacée")
        CALIBRATION = "calibration", _("Note de calibration de l'enseignant")

    grade = models.ForeignKey(Grade, on_delete=models.CASCADE, related_name="edits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    field = models.CharField(max_length=20, default="points")  # points, max_points, feedback
    action = models.CharField(max_length=12, choices=Action.choices, default=Action.EDIT)
    before = models.TextField(blank=True)
    after = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("modification d'une note")
        verbose_name_plural = _("modifications des notes")

    def __str__(self) -> str:
        return f"{self.grade} · {self.before} → {self.after}"
