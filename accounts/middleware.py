from __future__ import annotations

from django.conf import settings
from django.utils import translation

from .services import user_language


class UserLanguageMiddleware:
    """Language order: the cookie set by the switch, then the teacher's profile, then the browser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            language = user_language(user)
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
