"""Retention of students' files: an exam's uploads are deleted, its grades stay.

Copies are personal data of minors (docs/PRODUCT.md): the source PDFs, the rendered page
images and the subject file of an exam are deleted on the teacher's demand, by an operator
(admin action) or, every night, once the exam has been idle for CORRIGO_RETENTION_DAYS.
Grades, feedback, the engine's audit, the usage ledger and the exports built from grades
(CSV, XLSX, JSON) are kept; the annotated PDFs, which need the page images, say so.

Order: storage first, database second. A file is deleted through the storage API (local disk
or S3); only once that succeeded is its reference removed (the Page row deleted: its text
layer is the student's writing too; SourceFile.file and Exam.subject_file cleared). A storage
error therefore leaves the reference in place and `files_purged_at` unset, so the next run
retries that file: the database never claims a file that is gone... except for the short
window between the two steps (or a crash inside it), where a reference may name a file
already deleted. Both storages treat deleting a missing file as success, so the retry is
harmless, and the file-serving views and exports answer a missing file as a purged one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, Exists, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from ..errors import PurgeRefused
from ..models import Copy, Exam, ExportFile, Grade, GradingJob, Page, SourceFile
from .subject_pages import subject_pages_forget

logger = logging.getLogger(__name__)


@dataclass
class PurgeResult:
    deleted: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.failed


def _delete(storage, name: str, result: PurgeResult) -> bool:
    try:
        storage.delete(name)
    except Exception:  # any storage error (disk, S3): keep the reference, retry next time
        logger.exception("retention: could not delete %s", name)
        result.failed.append(name)
        return False
    result.deleted += 1
    return True


def exam_files_purge(*, exam: Exam, reason: str) -> PurgeResult:
    """Deletes every stored file of the exam and its references; grades stay.

    Idempotent: a second call finds nothing left and keeps the first date. Raises
    PurgeRefused while a grading job runs (its tasks read the page images).
    """
    if exam.jobs.filter(status=GradingJob.Status.RUNNING).exists():
        raise PurgeRefused(_("Attendez la fin de la correction pour supprimer les fichiers des élèves."))
    result = PurgeResult()
    subject_deleted = False
    if exam.subject_file:
        subject_name = exam.subject_file.name
        subject_deleted = _delete(exam.subject_file.storage, subject_name, result)
        if subject_deleted:
            # Its pages rendered for the barème review and the prompts: in the cache up to 2 days.
            subject_pages_forget(exam_id=exam.pk, name=subject_name)
    sources_deleted = []
    for source in SourceFile.objects.filter(exam=exam).exclude(file=""):
        if _delete(source.file.storage, source.file.name, result):
            sources_deleted.append(source.pk)
    # The annotated PDFs' zips hold the copies' pages: they go with them.
    zips_deleted = []
    for export in ExportFile.objects.filter(exam=exam, fmt=ExportFile.Format.ZIP).exclude(file=""):
        if _delete(export.file.storage, export.file.name, result):
            zips_deleted.append(export.pk)
    pages_deleted = []
    for page in Page.objects.filter(copy__exam=exam).only("pk", "image"):
        if not page.image or _delete(page.image.storage, page.image.name, result):
            pages_deleted.append(page.pk)

    now = timezone.now()
    with transaction.atomic():
        Page.objects.filter(pk__in=pages_deleted).delete()
        ExportFile.objects.filter(pk__in=zips_deleted).delete()
        SourceFile.objects.filter(pk__in=sources_deleted).update(file="")
        # A class PDF never split holds no grades: without its file it is nothing any more.
        SourceFile.objects.filter(pk__in=sources_deleted, copies__isnull=True).delete()
        fields: dict = {}
        if subject_deleted:
            fields["subject_file"] = ""
        if result.complete and (exam.files_purged_at is None or result.deleted):
            fields["files_purged_at"] = now
        if fields:
            # update(): the purge is not teacher activity, so updated_at does not move.
            Exam.objects.filter(pk=exam.pk).update(**fields)
            for name, value in fields.items():
                setattr(exam, name, value)
    logger.info(
        "retention: exam %s purged (%s): %s files deleted, %s failed",
        exam.pk,
        reason,
        result.deleted,
        len(result.failed),
        extra={"exam_id": exam.pk, "reason": reason},
    )
    return result


def retention_days() -> int:
    """Days of inactivity before the nightly purge; 0 when files are kept for ever."""
    return max(0, settings.CORRIGO_RETENTION_DAYS)


def retention_cutoff() -> datetime | None:
    days = retention_days()
    if not days:
        return None
    return timezone.now() - timedelta(days=days)


def exams_with_files() -> QuerySet[Exam]:
    return Exam.objects.filter(
        Q(subject_file__gt="")
        | Exists(SourceFile.objects.filter(exam=OuterRef("pk")).exclude(file=""))
        | Exists(Page.objects.filter(copy__exam=OuterRef("pk")))
    )


def exams_expired() -> QuerySet[Exam]:
    """Exams holding files whose last activity is older than the retention period.

    Last activity: the exam's last change, its last job, its last upload, the last change of
    a copy or a grade (review, edits). An exam with a running job is never expired.
    """
    cutoff = retention_cutoff()
    if cutoff is None:
        return Exam.objects.none()

    def latest(model, column, exam="exam"):
        newest = (
            model.objects.filter(**{exam: OuterRef("pk")}).order_by().values(exam).annotate(v=Max(column)).values("v")
        )
        return Coalesce(Subquery(newest, output_field=DateTimeField()), "updated_at")

    return (
        exams_with_files()
        .annotate(
            last_activity=Greatest(
                "updated_at",
                latest(GradingJob, "finished_at"),
                latest(GradingJob, "started_at"),
                latest(SourceFile, "created_at"),
                # Reviewing (copy marked reviewed, renamed) and grade edits are activity too.
                latest(Copy, "updated_at"),
                latest(Grade, "updated_at", exam="copy__exam"),
            )
        )
        .filter(last_activity__lt=cutoff)
        .exclude(Exists(GradingJob.objects.filter(exam=OuterRef("pk"), status=GradingJob.Status.RUNNING)))
        .order_by("pk")
    )


def exam_files_purge_expired() -> int:
    """Purges every expired exam; returns how many were purged completely."""
    purged = 0
    for exam in list(exams_expired()):
        try:
            result = exam_files_purge(exam=exam, reason="retention")
        except PurgeRefused:
            continue  # a job started since the selection: next night
        purged += result.complete
    return purged
