"""The exam and its barème: create, edit, delete; questions one by one or a confirmed proposal."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from ..errors import WorkflowError
from ..models import Exam, Grade, Page, Question, source_upload_to
from ..validation import pdf_validate


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
    names = [(f.storage, f.name) for f in files if f and f.name]
    with transaction.atomic():
        exam.delete()
        transaction.on_commit(lambda: _files_delete(names))


def _files_delete(names) -> None:
    for storage, name in names:
        storage.delete(name)


def _bareme_editable(exam: Exam) -> None:
    if exam.status == Exam.Status.GRADING:
        raise WorkflowError(_("Le barème ne peut pas changer pendant une correction."))


def question_add(*, exam: Exam, label: str, max_points, criteria: str = "") -> Question:
    _bareme_editable(exam)
    with transaction.atomic():
        # Lock the exam so two quick adds do not take the same position.
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        last = exam.questions.aggregate(m=Max("order"))["m"]
        order = 0 if last is None else last + 1
        return Question.objects.create(exam=exam, order=order, label=label, max_points=max_points, criteria=criteria)


def question_update(*, question: Question, label: str, max_points, criteria: str = "") -> Question:
    _bareme_editable(question.exam)
    question.label = label
    question.max_points = max_points
    question.criteria = criteria
    question.save(update_fields=["label", "max_points", "criteria"])
    return question


def question_delete(*, question: Question) -> None:
    _bareme_editable(question.exam)
    question.delete()


def question_move(*, question: Question, direction: str) -> None:
    """Swaps the question with its neighbour; positions are renumbered 0..n-1."""
    exam = question.exam
    _bareme_editable(exam)
    with transaction.atomic():
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        ids = list(exam.questions.order_by("order", "id").values_list("id", flat=True))
        i = ids.index(question.pk)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(ids):
            ids[i], ids[j] = ids[j], ids[i]
        for position, pk in enumerate(ids):
            Question.objects.filter(pk=pk).update(order=position)


def exam_subject_store(*, exam: Exam, upload: UploadedFile) -> Exam:
    """Validates and stores the subject / corrigé PDF, replacing any previous one. Raises PdfInvalid."""
    pdf_validate(upload)
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
    if previous:
        transaction.on_commit(lambda: storage.delete(previous))
    return exam


def bareme_replace(*, exam: Exam, rows: list[dict]) -> list[Question]:
    """Replaces the barème by the confirmed rows (only before any grade exists)."""
    _bareme_editable(exam)
    if not rows:
        raise WorkflowError(_("Gardez au moins une question."))
    with transaction.atomic():
        Exam.objects.select_for_update().filter(pk=exam.pk).first()
        if Grade.objects.filter(question__exam=exam).exists():
            raise WorkflowError(_("Des copies sont déjà notées sur ce barème : modifiez les questions une à une."))
        exam.questions.all().delete()
        return Question.objects.bulk_create(
            Question(exam=exam, order=i, label=r["label"], max_points=r["max_points"], criteria=r.get("criteria", ""))
            for i, r in enumerate(rows)
        )
