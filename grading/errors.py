"""The grading app's refusals: each an ApplicationError with a translated message.

The engine's own errors (a model misconfigured, a provider down, an unusable answer) are in
grading.engine.errors and derive from the same base; views catch only ApplicationError.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_noop

from core.errors import ApplicationError
from core.i18n import translatable


class WorkflowError(ApplicationError):
    """A refused action of the teacher's workflow (barème locked, bad split, points off the step…)."""


class PurgeRefused(ApplicationError):
    """The students' files cannot be deleted now (a grading job is reading them)."""


class FilesPurged(ApplicationError):
    """The annotated PDFs need the copies' files, deleted by the retention service."""

    def __init__(self, purged_at=None):
        when = timezone.localtime(purged_at or timezone.now())
        super().__init__(
            translatable(
                gettext_noop(
                    "Les fichiers des copies ont été supprimés le %(date)s : les PDF annotés ne sont plus "
                    "disponibles. Les notes restent exportables en CSV, XLSX et JSON."
                ),
                date=when.date(),
            )
        )
