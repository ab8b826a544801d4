"""What an exam records about the students of its class list besides their copies (issue 13).

Kept out of the grading.models package and imported by it, so the app registers it. A roster
student with no copy and no row here is absent ("Abs"); the teacher may record "Disp." or
"Non noté" instead (or "Abs" for a student whose copy should not count).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExamStudent(models.Model):
    class Status(models.TextChoices):
        ABSENT = "absent", _("Absent")
        EXCUSED = "excused", _("Dispensé")
        NOT_GRADED = "not_graded", _("Non noté")

    exam = models.ForeignKey("grading.Exam", on_delete=models.CASCADE, related_name="student_statuses")
    student = models.ForeignKey("rosters.Student", on_delete=models.CASCADE, related_name="exam_statuses")
    status = models.CharField(_("statut"), max_length=12, choices=Status.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exam", "student"], name="examstudent_unique")]
        verbose_name = _("statut d'un élève")
        verbose_name_plural = _("statuts des élèves")

    def __str__(self) -> str:
        return f"{self.student} · {self.get_status_display()}"
