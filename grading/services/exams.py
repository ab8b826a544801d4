"""The exam: create, edit, delete, its subject / corrigé stored (its barème: services.bareme)."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from ..models import Copy, Exam, Page, source_upload_to
from .subject_pages import subject_pages_enqueue, subject_pages_forget


def exam_create(*, owner, **fields) -> Exam:
    return Exam.objects.create(owner=owner, **fields)


def exam_update(*, exam: Exam, **fields) -> Exam:
    for name, value in fields.items():
        setattr(exam, name, value)
    exam.save()
    return exam


def exam_delete(*, exam: Exam) -> None:
    """Deletes the exam, its rows and its files in storage (after the commit)."""
    files = [exam.subject_file] if exam.subject_file else []
    for source in exam.sources.all():
        files.append(source.file)
    files.extend(page.image for page in Page.objects.filter(copy__exam=exam).only("image"))
    files.extend(export.file for export in exam.export_files.only("file"))
    names = [(f.storage, f.name) for f in files if f and f.name]
    exam_id, subject = exam.pk, exam.subject_file.name if exam.subject_file else ""
    with transaction.atomic():
        # The exam's and its copies' rows locked first: a ledger row or a hold a running copy
        # writes meanwhile (they point at both, emptied on delete) waits for this commit, then
        # finds them gone and is kept without them (services.answers.ledger_write). Unlocked,
        # it could slip in after the delete collected what points at them, and the delete
        # failed at its commit (a foreign key) with the exam still there.
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        list(Copy.objects.select_for_update().filter(exam=exam).values_list("pk", flat=True))
        exam.delete()
        transaction.on_commit(lambda: _files_delete(names, exam_id=exam_id, subject=subject))


def _files_delete(names, *, exam_id: int, subject: str) -> None:
    for storage, name in names:
        storage.delete(name)
    if subject:  # its rendered pages, else kept in the cache up to 2 days
        subject_pages_forget(exam_id=exam_id, name=subject)


def exam_subject_save(*, exam: Exam, upload: UploadedFile) -> str:
    """Stores an upload pdf_validate checked as the exam's subject / corrigé, replacing any
    previous one (deleted once committed), and enqueues the render of its pages (the barème
    review and the grading prompts read them). Returns the new name: the caller deletes that file
    if its transaction fails."""
    previous = exam.subject_file.name if exam.subject_file else ""
    storage = Exam._meta.get_field("subject_file").storage
    upload.seek(0)
    name = storage.save(source_upload_to(None, upload.name), upload)
    try:
        Exam.objects.filter(pk=exam.pk).update(subject_file=name)
    except Exception:
        storage.delete(name)
        raise
    exam.subject_file.name = name
    subject_pages_enqueue(exam=exam)
    if previous:
        transaction.on_commit(lambda: _files_delete([(storage, previous)], exam_id=exam.pk, subject=previous))
    return name


def exam_subject_drop(*, exam: Exam, name: str) -> bool:
    """Forgets the subject `name` (one that cannot be read) if it is still the exam's, and
    deletes its file once committed: a retry must not read it again."""
    with transaction.atomic():
        if not Exam.objects.filter(pk=exam.pk, subject_file=name).update(subject_file=""):
            return False
        storage = Exam._meta.get_field("subject_file").storage
        transaction.on_commit(lambda: _files_delete([(storage, name)], exam_id=exam.pk, subject=name))
    exam.subject_file.name = ""
    return True
