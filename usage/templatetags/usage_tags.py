from __future__ import annotations

from django import template

from usage.selectors import usage_bar_get

register = template.Library()


@register.inclusion_tag("usage/bar.html", takes_context=True)
def usage_bar(context, oob: bool = False) -> dict:
    """`{% load usage_tags %}{% usage_bar %}`: the signed-in user's usage bar (nothing when anonymous)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"bar": None}
    return {"bar": usage_bar_get(user=user), "oob": oob}
