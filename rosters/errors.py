"""The rosters app's refusals."""

from __future__ import annotations

from core.errors import ApplicationError


class RosterError(ApplicationError):
    """A class list that cannot be imported (its message names the lines), or a refused change."""
