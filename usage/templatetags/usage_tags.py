from __future__ import annotations

from django import template

from usage import selectors
from usage.models import UsageRecord

register = template.Library()


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
    return {"cost": cost, "phases": [(labels[phase], row) for phase, row in cost["phases"].items()]}
