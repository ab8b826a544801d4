"""The export files of an exam, for their owner only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ..models import Exam, ExportFile


def export_get(*, user, pk: int, now: datetime | None = None) -> ExportFile:
    """One export of one of the teacher's exams (another teacher's id is a 404), with its exam.
    An expired one is a 404 too, even before beat has deleted its file."""
    return get_object_or_404(
        ExportFile.objects.select_related("exam"), pk=pk, exam__owner=user, expires_at__gt=now or timezone.now()
    )


def export_progress_key(export_id: int) -> str:
    return f"export-progress:{export_id}"


@dataclass(frozen=True)
class ExportRow:
    export: ExportFile
    done: int
    total: int


def export_row(export: ExportFile) -> ExportRow:
    """The export with its progress (copies written / to write) while a worker builds it: kept
    in the cache by the build, so an unreachable cache shows no figures, never an error."""
    done, total = 0, 0
    if not export.finished:
        try:
            value = cache.get(export_progress_key(export.pk))
        except Exception:
            value = None
        if isinstance(value, list | tuple) and len(value) == 2:
            done, total = int(value[0]), int(value[1])
    return ExportRow(export=export, done=done, total=total)


def exam_exports(*, exam: Exam) -> list[ExportRow]:
    """The exam's exports still downloadable or under way, newest first."""
    exports = ExportFile.objects.filter(exam=exam, expires_at__gt=timezone.now()).select_related("exam")
    return [export_row(export) for export in exports]
