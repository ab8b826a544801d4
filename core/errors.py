"""The one application error: a refused action or a failure with a message for the user.

Services raise it (or a subclass named after the situation) with a translated message;
views catch only this class and show `.message`. Anything else is a bug: it reaches the
log and Sentry instead of being turned into a teacher-facing sentence.
"""

from __future__ import annotations


class ApplicationError(Exception):
    def __init__(self, message: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}

    def __str__(self) -> str:
        return str(self.message)
