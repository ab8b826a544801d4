"""Template filters of the grading pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.template.defaultfilters import floatformat
from django.utils import formats
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from core.numbers import average_text

from ..selectors.review import HIGH_CONFIDENCE, LOW_CONFIDENCE

register = template.Library()


@register.filter
def confidence_words(value: float | None) -> str:
    """A grader's confidence as a teacher reads it (« faible », « moyenne », « élevée »), on the
    thresholds the review queue and the copy page's meter use."""
    if value is None:
        return ""
    if value < LOW_CONFIDENCE:
        return _("faible")
    if value < HIGH_CONFIDENCE:
        return _("moyenne")
    return _("élevée")


@register.filter
def average(value: float | Decimal | None) -> str:
    """A class's mean, median or standard deviation (core.numbers.average_text): two decimals
    on the class summary as in the review grid, the dashboard and the summary's PDF."""
    return average_text(value)


@register.filter
def points(value: Decimal | float | str | None) -> str:
    """Points as the grid writes them (views.review._number): French decimals, no trailing
    zeros — « 2,5 » on the copy page as in the grid, never « 2,50 » beside it."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:  # an audit's text that is not a number is shown as it is
        return str(value)
    return formats.number_format(number.normalize(), use_l10n=True)


@register.filter
def points_unit(value: Decimal | float | None) -> str:
    """A gap in points with its unit agreed as each language does: French keeps « point » below 2
    (« 0,5 point », « 1,5 point », « 2,56 points »), English only for exactly one ("1.5 points").
    The count given to ngettext is 1 or 2, which both catalogues' plural rules read alike."""
    if value is None:
        return "—"
    number = Decimal(str(value))
    french = (get_language() or "").startswith("fr")
    singular = abs(number) < 2 if french else number == 1
    shown = floatformat(number, "-2")
    return ngettext("%(points)s point", "%(points)s points", 1 if singular else 2) % {"points": shown}
