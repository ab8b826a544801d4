from __future__ import annotations

from django import template

from billing.selectors import billing_payment_problem

register = template.Library()


@register.inclusion_tag("billing/banner.html", takes_context=True)
def billing_banner(context):
    """The 'payment failed, update your card' banner, on every page while it applies."""
    request = context.get("request")
    user = getattr(request, "user", None)
    show = bool(user is not None and billing_payment_problem(user=user))
    return {"show": show, "csrf_token": context.get("csrf_token")}
