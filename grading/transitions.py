"""Status changes as one conditional UPDATE (the models' row invariant)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet


class StatusTransitions:
    """Status changes as one conditional UPDATE: `transition` is True only for the caller that
    moved the row (a redelivered task, or a second copy finishing at once, gets False)."""

    pk: Any
    status: str

    def transition(self, *, source: Iterable[str], target: str, **fields: Any) -> bool:
        return self._transition(type(self)._default_manager.filter(pk=self.pk), source, target, fields)  # type: ignore[attr-defined]

    def _transition(self, rows: QuerySet, source: Iterable[str], target: str, fields: dict[str, Any]) -> bool:
        if not rows.filter(status__in=list(source)).update(status=target, **fields):
            return False
        self.status = target
        for name, value in fields.items():
            setattr(self, name, value)
        return True
