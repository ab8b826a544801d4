"""Forms of the teacher's workflow: exam settings, barème rows, uploads, grade edits."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import cast

from django import forms
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from rosters.selectors import school_classes_for

from .models import Copy, Exam, Question, StudentLink


class ExamForm(forms.ModelForm):
    class Meta:
        model = Exam
        fields = [
            "title",
            "school_class",
            "subject",
            "level",
            "language",
            "mode",
            "rounding_step",
            "instructions",
            "mask_names",
        ]
        widgets = {
            "instructions": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "school_class": _("Facultatif : les noms lus sur les copies sont rapprochés de sa liste d'élèves."),
            "mode": _("La double correction fait noter chaque copie par deux modèles, puis compare."),
            "rounding_step": _("Les points de chaque question sont arrondis à ce pas."),
            "mask_names": _(
                "Le bandeau du nom de la première page est masqué dans les appels de correction, "
                "une fois le nom lu : le nom de l'élève ne part pas chez le fournisseur du modèle."
            ),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the teacher's own classes: another teacher's id is refused as an invalid choice.
        school_class = cast("forms.ModelChoiceField", self.fields["school_class"])  # a ForeignKey's field
        school_class.queryset = school_classes_for(user=user)
        school_class.empty_label = _("Aucune (correction ponctuelle)")


class PointsField(forms.DecimalField):
    """Points typed as on a French keyboard ('2,5') or an English one ('2.5').

    A number input drops the comma in most browsers ('2,5' became 25 points), so this is a
    text input in decimal mode; the value is shown without trailing zeros, in the page's language.
    """

    widget = forms.TextInput

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
        return super().to_python(value)

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        attrs.update({"inputmode": "decimal", "autocomplete": "off"})
        return attrs

    def prepare_value(self, value):
        if isinstance(value, Decimal):
            value = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
            return formats.number_format(value)
        return value


class QuestionForm(forms.ModelForm):
    class Meta:
        model = Question
        fields = ["label", "max_points", "criteria"]
        field_classes = {"max_points": PointsField}
        widgets = {
            "criteria": forms.Textarea(attrs={"rows": 2}),
        }

    def clean_max_points(self) -> Decimal:
        value = self.cleaned_data["max_points"]
        if value is None or value <= 0:
            raise forms.ValidationError(_("Le nombre de points doit être positif."))
        if value > 1000:
            raise forms.ValidationError(_("Pas plus de 1000 points par question."))
        return value


class QuestionMoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "up"), ("down", "down")])


class SplitForm(forms.Form):
    """One PDF holding the whole class, cut every `pages_per_student` pages."""

    file = forms.FileField(label=_("PDF de toute la classe"))
    pages_per_student = forms.IntegerField(
        label=_("Pages par élève"),
        min_value=1,
        max_value=100,
        required=False,
        help_text=_("Laissez vide pour une proposition de découpage automatique, que vous vérifiez."),
    )


class CopyRenameForm(forms.ModelForm):
    class Meta:
        model = Copy
        fields = ["student_label"]


def points_parse(raw: str) -> Decimal | None:
    """Accepts '12,5' as well as '12.5' (French keyboards); None unless a finite number.

    Decimal reads 'NaN', 'sNaN' and 'Infinity' too: a NaN cannot even be compared with the
    bounds (InvalidOperation), so they are refused here like any text that is not a number.
    """
    try:
        points = Decimal(raw.strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        return None
    return points if points.is_finite() else None


class SplitRowForm(forms.Form):
    student_label = forms.CharField(label=_("Élève"), max_length=200)
    first_page = forms.IntegerField(label=_("Première page"), min_value=1)
    last_page = forms.IntegerField(label=_("Dernière page"), min_value=1)

    def __init__(self, *args, students=(), **kwargs):
        super().__init__(*args, **kwargs)
        if students:
            # The class list's drop-down: the proposed match, or the teacher's choice.
            self.fields["student"] = forms.TypedChoiceField(
                label=_("Élève de la liste"),
                choices=[("", _("— non trouvé —")), *((s.pk, s.display_name) for s in students)],
                coerce=int,
                empty_value=None,
                required=False,
            )


SplitRowFormSet = forms.formset_factory(SplitRowForm, extra=1, can_delete=True)


class BaremeRowForm(forms.Form):
    label = forms.CharField(label=_("Intitulé"), max_length=300)
    max_points = PointsField(label=_("Points"), max_digits=6, decimal_places=2, min_value=Decimal("0.01"))
    criteria = forms.CharField(
        label=_("Réponse attendue / critères"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


BaremeRowFormSet = forms.formset_factory(BaremeRowForm, extra=0, can_delete=True)
# The proposal as first shown: its rows and one empty row to add a question the reading missed
# (left empty, it is not a question: an unchanged extra form is skipped).
BaremeProposalFormSet = forms.formset_factory(BaremeRowForm, extra=1, can_delete=True)


class LinkDaysForm(forms.Form):
    """How long the students' links stay open, in days."""

    days = forms.IntegerField(
        label=_("Durée de validité des liens (jours)"),
        min_value=1,
        max_value=StudentLink.DAYS_MAX,
        initial=StudentLink.DAYS_DEFAULT,
    )
