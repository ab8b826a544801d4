"""A teacher's classes and their class lists (rosters), in the order of the list imported."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SchoolClass(models.Model):
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="school_classes")
    name = models.CharField(_("nom"), max_length=100, help_text=_("Par exemple « 3e B »."))
    level = models.CharField(_("niveau"), max_length=100, blank=True)
    school_year = models.CharField(_("année scolaire"), max_length=9, blank=True, help_text=_("Par exemple 2026-2027."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-school_year", "name", "id"]
        verbose_name = _("classe")
        verbose_name_plural = _("classes")

    def __str__(self) -> str:
        return f"{self.name} ({self.school_year})" if self.school_year else self.name


class Student(models.Model):
    school_class = models.ForeignKey(SchoolClass, on_delete=models.CASCADE, related_name="students")
    # The place in the class list: exports and Pronote's grid follow it.
    position = models.PositiveIntegerField(default=0)
    last_name = models.CharField(_("nom"), max_length=100)
    first_name = models.CharField(_("prénom"), max_length=100, blank=True)
    number = models.CharField(_("numéro"), max_length=50, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("élève")
        verbose_name_plural = _("élèves")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """As Pronote writes it: "NOM Prénom"."""
        return f"{self.last_name.upper()} {self.first_name}".strip()
