from __future__ import annotations

from django import template

from billing.plans import plan_rows
from billing.selectors import billing_payment_problem, school_billing_status
from billing.services import SEATS_MAX

register = template.Library()


@register.inclusion_tag("billing/banner.html", takes_context=True)
def billing_banner(context):
    """The 'payment failed, update your card' banner, on every page while it applies."""
    request = context.get("request")
    user = getattr(request, "user", None)
    show = bool(user is not None and billing_payment_problem(user=user))
    return {"show": show, "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("billing/_school_subscription.html", takes_context=True)
def school_subscription(context, school):
    """The school admin's subscription card: the plan the school pays, or the plans to choose
    from (quantity = the teachers it pays for), or nothing with billing off."""
    teachers = school.memberships.filter(left_at__isnull=True).count()
    return {
        "school": school,
        "status": school_billing_status(school=school),
        "rows": [row for row in plan_rows() if row.plan is not None],
        "seats": max(teachers, 1),
        "seats_max": SEATS_MAX,
        "csrf_token": context.get("csrf_token"),
    }
