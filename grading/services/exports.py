"""Exports built by a worker: the annotated PDFs' zip always, the tables of a large class.

The teacher asks (export_start), a worker builds the file (export_build, from the task) and
stores it through Django's storage API (disk or S3 alike), the exam page polls its progress and
offers the download to the exam's owner only; beat deletes files past CORRIGO_EXPORT_HOURS
(exports_expire).

The zip is written one copy at a time to a temporary file, then streamed to storage in chunks:
neither the archive nor more than one copy's PDF is in the worker's memory. Progress lives in
the cache (a courtesy: no database write per copy), so the build reads and writes the same
number of rows whatever the class's size.

Where the line is (CORRIGO_EXPORT_SYNC_MAX_COPIES, 60 by default): `make bench --only export`
measured the tables of 300 graded copies in-process at a load of 13 on 4 cores: CSV 213 ms,
XLSX 837 ms, JSON 671 ms, Pronote 445 ms; the zip of the same class 684 s in a worker (two PDF
sandboxes per copy). A class (up to 60 copies) keeps its tables in the request, a fifth of that
time; a larger set goes to a worker; the zip always does.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.errors import ApplicationError
from core.i18n import text_dump, translatable

from .. import exports
from ..errors import FilesPurged, WorkflowError
from ..models import Exam, ExportFile
from ..selectors.exports import export_progress_key
from ..tasks import export_build_task
from .links import LINK_DAYS_MAX, exam_links_issue

logger = logging.getLogger(__name__)

# An export still pending or running this long after it was asked for lost its worker.
STALE_AFTER = timedelta(hours=2)

TABLES: dict[str, Callable[..., bytes]] = {
    ExportFile.Format.CSV: exports.exam_csv,
    ExportFile.Format.XLSX: exports.exam_xlsx,
    ExportFile.Format.JSON: exports.exam_json_bytes,
    ExportFile.Format.PRONOTE_CSV: exports.pronote_csv,
    ExportFile.Format.PRONOTE_XLSX: exports.pronote_xlsx,
}
EXTENSIONS = {
    ExportFile.Format.CSV: "csv",
    ExportFile.Format.XLSX: "xlsx",
    ExportFile.Format.JSON: "json",
    ExportFile.Format.ZIP: "zip",
    ExportFile.Format.PRONOTE_CSV: "csv",
    ExportFile.Format.PRONOTE_XLSX: "xlsx",
}


def export_in_background(*, exam: Exam, fmt: str) -> bool:
    """Whether this export is built by a worker rather than inside the request."""
    return fmt == ExportFile.Format.ZIP or exam.copies.count() > settings.CORRIGO_EXPORT_SYNC_MAX_COPIES


def export_filename(export: ExportFile) -> str:
    name = slugify(export.exam.title) or "correction"
    suffix = "-pronote" if export.fmt.startswith("pronote") else ""
    return f"{name}{suffix}.{EXTENSIONS[ExportFile.Format(export.fmt)]}"


def export_start(*, exam: Exam, user, fmt: str, scale: str = "", link_days: int | None = None) -> ExportFile:
    """Records the export and enqueues its build once committed. `link_days` (the zip only):
    each copy's summary page carries a QR code to a new private link open that many days."""
    if fmt not in ExportFile.Format.values:
        raise WorkflowError(_("Format d'export inconnu."))
    if link_days is not None and fmt != ExportFile.Format.ZIP:
        link_days = None
    if link_days is not None and not 1 <= link_days <= LINK_DAYS_MAX:
        raise WorkflowError(_("La durée d'un lien va de 1 à %(max)s jours.") % {"max": LINK_DAYS_MAX})
    if fmt == ExportFile.Format.ZIP and exam.files_purged_at is not None:
        raise FilesPurged(exam.files_purged_at)
    scale = (scale if scale in exports.PRONOTE_SCALES else "20") if fmt.startswith("pronote") else ""
    export = ExportFile.objects.create(
        exam=exam,
        created_by=user,
        fmt=fmt,
        scale=scale,
        link_days=link_days,
        expires_at=timezone.now() + timedelta(hours=settings.CORRIGO_EXPORT_HOURS),
    )
    transaction.on_commit(lambda: export_build_task.delay(export.pk))
    return export


def export_progress_set(*, export_id: int, done: int, total: int) -> None:
    try:
        cache.set(export_progress_key(export_id), (done, total), timeout=settings.CORRIGO_EXPORT_HOURS * 3600)
    except Exception:
        logger.warning("export %s: progress not stored", export_id, exc_info=True)


def export_build(*, export: ExportFile) -> ExportFile:
    """Builds the file and stores it; a second delivery of the task finds it taken and leaves."""
    if not export.transition(source=[ExportFile.Status.PENDING], target=ExportFile.Status.RUNNING):
        return export
    exam = export.exam
    name = export_filename(export)
    try:
        if export.fmt == ExportFile.Format.ZIP:
            # On disk, then to storage in chunks (S3: a multipart upload): never in memory.
            links = None
            if export.link_days:
                # Issued here, by the build, so the links exist only inside the file (and as hashes).
                issued = exam_links_issue(exam=exam, user=export.created_by or exam.owner, days=export.link_days)
                links = {item.copy.pk: item.url for item in issued}
            with tempfile.TemporaryFile(prefix="corrigo-export-") as handle:
                exports.exam_annotated_zip_write(
                    exam=exam,
                    handle=handle,
                    progress=lambda done, total: export_progress_set(export_id=export.pk, done=done, total=total),
                    links=links,
                )
                size = handle.tell()
                handle.seek(0)
                stored = export.file.storage.save(export.file.field.generate_filename(export, name), File(handle))
        else:
            build = TABLES[export.fmt]
            content = build(exam=exam, scale=export.scale) if export.scale else build(exam=exam)
            size = len(content)
            stored = export.file.storage.save(export.file.field.generate_filename(export, name), ContentFile(content))
    except ApplicationError as error:
        export.transition(
            source=[ExportFile.Status.RUNNING],
            target=ExportFile.Status.FAILED,
            failure_reason=text_dump(error.message, limit=2000),
            finished_at=timezone.now(),
        )
        return export
    except Exception:
        logger.exception("export %s failed", export.pk)
        export.transition(
            source=[ExportFile.Status.RUNNING],
            target=ExportFile.Status.FAILED,
            failure_reason=text_dump(
                translatable(
                    gettext_noop("Erreur interne pendant la préparation de l'export ; vous pouvez le relancer.")
                ),
                limit=2000,
            ),
            finished_at=timezone.now(),
        )
        return export
    if not export.transition(
        source=[ExportFile.Status.RUNNING],
        target=ExportFile.Status.DONE,
        file=stored,
        size_bytes=size,
        finished_at=timezone.now(),
    ):
        export.file.storage.delete(stored)  # expired or deleted while it was built
    return export


def exports_expire(*, now=None) -> int:
    """Deletes the export files past their expiry (beat, hourly) and fails those whose worker
    was lost. Returns the number of exports deleted."""
    now = now or timezone.now()
    ExportFile.objects.filter(
        status__in=[ExportFile.Status.PENDING, ExportFile.Status.RUNNING], created_at__lte=now - STALE_AFTER
    ).update(
        status=ExportFile.Status.FAILED,
        failure_reason=text_dump(
            translatable(gettext_noop("L'export n'a pas abouti ; vous pouvez le relancer.")), limit=2000
        ),
        finished_at=now,
    )
    expired = list(ExportFile.objects.filter(expires_at__lte=now))
    for export in expired:
        if export.file:
            export.file.storage.delete(export.file.name)
    ExportFile.objects.filter(pk__in=[export.pk for export in expired]).delete()
    return len(expired)
