from __future__ import annotations

from django import template

from schools import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def school_admin_link(context) -> bool:
    """`{% school_admin_link as administers %}`: whether the signed-in user administers a school
    (the navigation then links to its page). One indexed query per page, signed-in users only."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return False
    return selectors.schools_administered(user=user).exists()
