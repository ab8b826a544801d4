"""Typed access to the signed-in teacher in views (@login_required) and API views."""

from __future__ import annotations

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from core.http import HtmxHttpRequest

from .models import User


class AuthenticatedHttpRequest(HtmxHttpRequest):
    user: User


def api_user(request: Request) -> User:
    """The teacher behind an API request. API views require authentication by default
    (REST_FRAMEWORK's IsAuthenticated); an anonymous caller here is refused, never served."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated
    return user
