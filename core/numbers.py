"""Numbers as every page and export of Corrigo writes them."""

from __future__ import annotations

from decimal import Decimal

from django.template.defaultfilters import floatformat

# A class's average, median or standard deviation: two decimals everywhere (the class summary
# once wrote one, « 7,3 » beside the review grid's « 7,33 » for the same class).
AVERAGE_PLACES = 2


def average_text(value: float | Decimal | None) -> str:
    """A mean (or median, standard deviation) with AVERAGE_PLACES decimals in the active
    language (« 7,33 » in French, "7.33" in English); « — » when there is none."""
    if value is None:
        return "—"
    return floatformat(value, AVERAGE_PLACES)
