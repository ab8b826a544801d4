"""State changes of the teacher's workflow: exams, barème, uploads, grade edits."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from .models import Exam, Page, Question


class WorkflowError(Exception):
    """A refused action, with a message for the teacher."""


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
