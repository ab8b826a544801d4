"""Engine errors. Messages are French source strings (translated), shown to teachers."""

from __future__ import annotations

from core.errors import ApplicationError


class EngineError(ApplicationError):
    """Anything that stops the engine with a reason a teacher or operator can read."""


class ModelMisconfigured(EngineError):
    """A role's model, key or price is missing: refused before any job starts."""


class TransientLLMError(EngineError):
    """429, 5xx, timeouts, connection errors: worth retrying later."""


class PermanentLLMError(EngineError):
    """Authentication, bad request, unknown model: retrying will not help."""


class InvalidAnswer(EngineError):
    """The model's answer is not valid JSON for the schema (or was cut short)."""

    def __init__(self, message: str, *, raw: str = ""):
        super().__init__(message)
        self.raw = raw
