"""A calibration round: the teacher grades a few copies blind, the AI grades the same ones,
and Corrigo shows how often they agree (services.calibration, selectors.calibration)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .exams import Copy, Exam, GradingJob, Question


class Calibration(models.Model):
    """One per exam. While the teacher grades (`TEACHER`), its copies are set aside: no job
    takes them (selectors.gradable_copies), so the AI's grades cannot exist before the
    teacher's. Submitted (`AI`), each round is a metered job of its copies (`job`, the last);
    the teacher's grades (CalibrationGrade) stay the copies' final grades."""

    class Status(models.TextChoices):
        TEACHER = "teacher", _("Notes de l'enseignant à donner")
        AI = "ai", _("Corrigée par l'IA")

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="calibration")
    copies = models.ManyToManyField(Copy, related_name="calibrations")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TEACHER)
    rounds = models.PositiveSmallIntegerField(default=0)  # AI rounds started
    job = models.ForeignKey(GradingJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("calibration")
        verbose_name_plural = _("calibrations")

    def __str__(self) -> str:
        return f"{self.exam} · {self.get_status_display()}"


class CalibrationGrade(models.Model):
    """The teacher's points for one question of one calibration copy, given blind."""

    calibration = models.ForeignKey(Calibration, on_delete=models.CASCADE, related_name="grades")
    copy = models.ForeignKey(Copy, on_delete=models.CASCADE, related_name="calibration_grades")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="calibration_grades")
    points = models.DecimalField(max_digits=6, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["copy", "question"], name="calibrationgrade_unique_copy_question"),
            models.CheckConstraint(condition=models.Q(points__gte=0), name="calibrationgrade_points_positive"),
        ]
        verbose_name = _("note de calibration")
        verbose_name_plural = _("notes de calibration")

    def __str__(self) -> str:
        return f"{self.copy} · {self.question} : {self.points}"
