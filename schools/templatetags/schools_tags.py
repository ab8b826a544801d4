from __future__ import annotations

from django import template

from schools import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def school_roles(context) -> selectors.SchoolRoles | None:
    """`{% school_roles as roles %}`: whether the signed-in user administers a school (the menu
    links to its page) and whether a school pays for them (the menu then offers no plans: their
    school's admin manages the plan). One query per page, signed-in users only."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return None
    return selectors.school_roles(user=user)
