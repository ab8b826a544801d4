"""Forms of the classes pages: a class, a student, a class list to import."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SchoolClass, Student


class SchoolClassForm(forms.ModelForm):
    class Meta:
        model = SchoolClass
        fields = ["name", "level", "school_year"]


class StudentForm(forms.ModelForm):
    class Meta:
        model = Student
        fields = ["last_name", "first_name", "number", "email"]


class RosterImportForm(forms.Form):
    file = forms.FileField(
        label=_("Fichier de la liste (CSV ou XLSX)"),
        required=False,
        help_text=_("L'export « liste des élèves » de Pronote ou de l'ENT, tel quel."),
    )
    text = forms.CharField(
        label=_("Ou collez la liste"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "placeholder": "DUPONT Marie\nMARTIN Lucas"}),
        help_text=_("Une ligne par élève : « NOM Prénom », ou les colonnes copiées d'un tableur."),
    )

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        if not cleaned.get("file") and not (cleaned.get("text") or "").strip():
            raise forms.ValidationError(_("Choisissez un fichier ou collez la liste des élèves."))
        return cleaned
