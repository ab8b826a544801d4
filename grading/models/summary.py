"""The class summary of an exam: what to tell the class when the copies are handed back."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .exams import Exam


class ClassSummary(models.Model):
    """The model's draft (kept as it came, restorable) and the teacher's text, printed on the
    one-page PDF. One per exam; a new draft replaces both."""

    exam = models.OneToOneField(Exam, on_delete=models.CASCADE, related_name="class_summary")
    text = models.TextField(_("synthèse pour la classe"), blank=True)
    text_ai = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    drafted_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("synthèse de classe")
        verbose_name_plural = _("synthèses de classe")

    def __str__(self) -> str:
        return f"{self.exam}"

    @property
    def edited(self) -> bool:
        return self.text != self.text_ai
