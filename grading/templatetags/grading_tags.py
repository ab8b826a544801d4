"""Template filters of the grading pages."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats
from django.utils.translation import gettext as _

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
