"""Students' copies in: one PDF per student, or a whole class split into copies; their pages.

A PDF is validated before anything is stored, stored outside any transaction (slow I/O) and
removed again if its rows cannot be written. Pages are rendered by a task, one at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from core.i18n import translatable
from rosters.models import Student

from ..engine.errors import EngineError
from ..engine.render import local_copy, pdf_pages
from ..errors import WorkflowError
from ..models import Copy, Exam, Grade, Page, SourceFile, source_upload_to
from ..tasks import copy_pages_render_task, source_thumbnails_render_task
from ..validation import pdf_validate


@dataclass(frozen=True)
class SplitRow:
    student_label: str
    first_page: int
    last_page: int
    student_id: int | None = None  # the class list's student, when the teacher chose one


def student_label_from_filename(filename: str) -> str:
    stem = PurePath(filename).stem
    label = re.sub(r"[_\s]+", " ", stem).strip()
    return label[:200] or _("Élève")


# Thumbnails of a class PDF's pages for the split screen: small JPEGs kept in the cache (shared
# by every web and worker machine, gone on their own: no file to clean up when the PDF goes).
THUMBNAIL_LONG_SIDE = 240
THUMBNAIL_TTL_S = 2 * 24 * 3600


def thumbnail_key(source: SourceFile, index: int) -> str:
    return f"grading:thumb:{source.pk}:{source.sha256[:16]}:{index}"


def source_thumbnails_render(*, source: SourceFile) -> int:
    """Renders every page of the source as a thumbnail (sandboxed, one page at a time)."""
    count = 0
    with local_copy(source.file.name, storage=source.file.storage) as path:
        for rendered in pdf_pages(path, long_side=THUMBNAIL_LONG_SIDE):
            cache.set(thumbnail_key(source, rendered.index), rendered.jpeg, THUMBNAIL_TTL_S)
            count += 1
    return count


def source_thumbnails_enqueue(*, source: SourceFile) -> None:
    """Asks a worker for the thumbnails once (a page opened many times enqueues one task)."""
    if cache.add(f"grading:thumb-task:{source.pk}", True, 600):
        transaction.on_commit(lambda: source_thumbnails_render_task.delay(source.pk))


def _pages_render_enqueue(copy_ids: list[int]) -> None:
    for pk in copy_ids:
        transaction.on_commit(partial(copy_pages_render_task.delay, pk))


def _file_store(upload: UploadedFile) -> str:
    """Saves the upload under an unguessable name (slow I/O: outside any transaction)."""
    storage = SourceFile._meta.get_field("file").storage
    upload.seek(0)
    return storage.save(source_upload_to(None, upload.name), upload)


def _duplicate_refuse(*, exam: Exam, sha256: str) -> None:
    """A file already uploaded to this exam (same content, whatever its name) is refused."""
    earlier = SourceFile.objects.filter(exam=exam, sha256=sha256).only("original_name").first()
    if earlier is not None:
        raise WorkflowError(
            _(
                "Ce fichier a déjà été déposé pour cette correction (« %(name)s ») : "
                "il n'est pas ajouté une seconde fois."
            )
            % {"name": earlier.original_name}
        )


def _source_upload(*, exam: Exam, upload: UploadedFile, whole_file_copy: bool) -> SourceFile:
    if exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Attendez la fin de la correction pour ajouter des copies."))
    if exam.files_purged_at is not None:
        # Retention deleted this exam's files: new copies would escape the date it shows.
        raise WorkflowError(_("Les fichiers de cette correction ont été supprimés : créez une nouvelle correction."))
    info = pdf_validate(upload)
    _duplicate_refuse(exam=exam, sha256=info.sha256)
    filename = upload.name or ""  # typed optional; a file posted by a form always has one
    name = _file_store(upload)
    try:
        with transaction.atomic():
            # Locked, so that the same file sent twice at once is stored once.
            Exam.objects.select_for_update().filter(pk=exam.pk).first()
            _duplicate_refuse(exam=exam, sha256=info.sha256)
            source = SourceFile.objects.create(
                exam=exam,
                file=name,
                original_name=filename[:255],
                page_count=info.page_count,
                size_bytes=info.size_bytes,
                sha256=info.sha256,
            )
            if whole_file_copy:
                copy = Copy.objects.create(
                    exam=exam,
                    source=source,
                    student_label=student_label_from_filename(filename),
                    first_page=1,
                    last_page=info.page_count,
                )
                _pages_render_enqueue([copy.pk])
            else:
                source_thumbnails_enqueue(source=source)
    except Exception:
        SourceFile._meta.get_field("file").storage.delete(name)
        raise
    return source


def source_upload_copy(*, exam: Exam, upload: UploadedFile) -> Copy:
    """One student's PDF: validated, stored, one copy over all its pages. Raises PdfInvalid."""
    return _source_upload(exam=exam, upload=upload, whole_file_copy=True).copies.get()


def source_upload_class(*, exam: Exam, upload: UploadedFile) -> SourceFile:
    """The whole class in one PDF: stored without copies until the teacher confirms a split."""
    return _source_upload(exam=exam, upload=upload, whole_file_copy=False)


def split_fixed(*, page_count: int, pages_per_student: int) -> list[SplitRow]:
    rows = []
    for n, first in enumerate(range(1, page_count + 1, pages_per_student), start=1):
        last = min(first + pages_per_student - 1, page_count)
        rows.append(SplitRow(student_label=placeholder_label(n), first_page=first, last_page=last))
    return rows


def split_check(*, rows: list[SplitRow], page_count: int) -> list[str]:
    """Errors of a split: ranges inside the file, in order, not overlapping, names given."""
    errors = []
    previous_last = 0
    for n, row in enumerate(rows, start=1):
        if not row.student_label.strip():
            errors.append(_("Ligne %(n)s : indiquez le nom de l'élève.") % {"n": n})
        if not 1 <= row.first_page <= row.last_page <= page_count:
            errors.append(
                _("Ligne %(n)s : les pages doivent aller de 1 à %(max)s, la première avant la dernière.")
                % {"n": n, "max": page_count}
            )
        elif row.first_page <= previous_last:
            errors.append(_("Ligne %(n)s : ces pages chevauchent la copie précédente.") % {"n": n})
        previous_last = max(previous_last, row.last_page)
    if not rows:
        errors.append(_("Indiquez au moins une copie."))
    return errors


def split_apply(*, source: SourceFile, rows: list[SplitRow]) -> list[Copy]:
    """Replaces the source's copies by the confirmed split. Raises WorkflowError."""
    errors = split_check(rows=rows, page_count=source.page_count)
    if errors:
        raise WorkflowError(" ".join(errors))
    exam = source.exam
    if exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Attendez la fin de la correction pour ajouter des copies."))
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers de cette correction ont été supprimés : créez une nouvelle correction."))
    with transaction.atomic():
        if Grade.objects.filter(copy__source=source).exists():
            raise WorkflowError(_("Ces copies sont déjà corrigées : leur découpage ne peut plus changer."))
        old_pages = [p.image.name for p in Page.objects.filter(copy__source=source) if p.image]
        source.copies.all().delete()
        students = _split_students(exam=exam, rows=rows)
        copies = Copy.objects.bulk_create(
            Copy(
                exam=exam,
                source=source,
                student_label=(students[row.student_id].display_name if row.student_id else row.student_label.strip())[
                    :200
                ],
                # A name on the split row was read or typed: the copy needs no name-reading call.
                read_name="" if placeholder_is(row.student_label) else row.student_label.strip()[:200],
                student_id=row.student_id,
                first_page=row.first_page,
                last_page=row.last_page,
            )
            for row in rows
        )
        transaction.on_commit(partial(_stored_delete, old_pages))
        _pages_render_enqueue([c.pk for c in copies])
    return copies


def placeholder_label(n: int) -> str:
    """The label of a split row without a name (fixed pages, or none legible): "Élève 3"."""
    return _("Élève %(n)s") % {"n": n}


def placeholder_is(label: str) -> bool:
    """Whether a label is still a placeholder, in whichever of the site's languages the split
    page was shown (the teacher may have switched language between proposal and confirmation)."""
    label = label.strip()
    number = label.rsplit(" ", 1)[-1]
    if not number.isdigit():
        return False
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            if label == placeholder_label(int(number)):
                return True
    return False


def _split_students(*, exam: Exam, rows: list[SplitRow]) -> dict[int, Student]:
    """The chosen students, each of the exam's class list and chosen once."""
    chosen = [row.student_id for row in rows if row.student_id is not None]
    students = Student.objects.in_bulk(chosen) if exam.school_class_id else {}
    if any(students.get(pk) is None or students[pk].school_class_id != exam.school_class_id for pk in chosen):
        raise WorkflowError(_("Un élève choisi n'est pas dans la liste de la classe de cette correction."))
    if len(set(chosen)) != len(chosen):
        raise WorkflowError(_("Un même élève est choisi pour deux copies."))
    return students


def _stored_delete(names: list[str]) -> None:
    for name in names:
        if name:
            default_storage.delete(name)


def copy_delete(*, copy: Copy) -> None:
    """Removes a copy; its source file goes too when no other copy uses it."""
    if copy.exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Attendez la fin de la correction pour retirer une copie."))
    names = [p.image.name for p in copy.pages.all() if p.image]
    with transaction.atomic():
        source = copy.source
        copy.delete()
        if source is not None and not source.copies.exists():
            names.append(source.file.name)
            source.delete()
        transaction.on_commit(partial(_stored_delete, names))


def copy_pages_render(*, copy: Copy) -> int:
    """Renders the copy's page range of its source PDF to stored JPEGs (one page at a time).

    Replaces any earlier pages of the copy. Raises EngineError for an unreadable PDF or a
    page over the sandbox's limits, leaving the copy without pages (never some of them).
    """
    if copy.source is None:
        raise EngineError(translatable(gettext_noop("Cette copie n'a pas de fichier source.")))
    with local_copy(copy.source.file.name, storage=copy.source.file.storage) as path:
        _pages_delete(copy)
        try:
            for rendered in pdf_pages(path, first=copy.first_page, last=copy.last_page):
                page = Page(copy=copy, index=rendered.index - copy.first_page + 1)
                page.width, page.height = rendered.width, rendered.height
                page.text = rendered.text.replace("\x00", "")
                page.image.save(f"p{page.index}.jpg", ContentFile(rendered.jpeg), save=False)
                page.save()
        except EngineError:
            _pages_delete(copy)
            raise
    return copy.pages.count()


def _pages_delete(copy: Copy) -> None:
    pages = list(copy.pages.all())
    for page in pages:
        page.image.delete(save=False)
    Page.objects.filter(pk__in=[page.pk for page in pages]).delete()
