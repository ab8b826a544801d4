from __future__ import annotations

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _

from usage import selectors
from usage.models import UsageRecord

register = template.Library()


@register.filter
def eur(value: Decimal | int | None, digits: int = 2) -> str:
    """`{{ cost_usd|eur }}`: a provider cost (USD) in euros at the operator's rate
    (settings.USD_EUR_RATE), in the active language: « 0,25 € », "€0.25". A cost too small to
    show at `digits` (a copy graded by a cheap model costs a fraction of a cent) reads
    « < 0,01 € », never « 0,00 € » beside the table that shows it. The spaces in the French
    msgids are non-breaking (U+00A0): an amount never wraps away from its sign."""
    euros = selectors.usd_to_eur(Decimal(value or 0))
    smallest = Decimal(1).scaleb(-digits)
    if 0 < euros < smallest / 2:
        return _("< %(amount)s €") % {"amount": floatformat(smallest, digits)}
    return _("%(amount)s €") % {"amount": floatformat(euros, digits)}


@register.inclusion_tag("usage/bar.html", takes_context=True)
def usage_bar(context, oob: bool = False) -> dict:
    """`{% load usage_tags %}{% usage_bar %}`: the signed-in user's usage bar (nothing when anonymous)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"bar": None}
    return {"bar": selectors.usage_bar_get(user=user), "oob": oob}


@register.inclusion_tag("usage/exam_cost.html")
def usage_exam_cost(exam) -> dict:
    """`{% usage_exam_cost exam %}`: the exam's cost per phase (nothing before the first LLM call).
    The page that calls it has already checked that the exam is the viewer's."""
    cost = selectors.usage_exam_cost(exam_id=exam.pk)
    labels = dict(UsageRecord.Phase.choices)
    copies = cost["copies"]
    per_copy = {
        "cost": cost["total"]["total_cost"] / copies if copies else 0,
        "tokens": cost["total"]["total_tokens"] // copies if copies else 0,
    }
    return {
        "cost": cost,
        "phases": [(labels[phase], row) for phase, row in cost["phases"].items()],
        "copies": copies,
        "per_copy": per_copy,
    }
