"""The barème: questions one by one or a confirmed proposal, and what a change after grading
does to the grades already given.

A question's label and criteria change freely. Its points, or adding / removing a question,
once copies are graded, need the teacher's choice (`GradesChoice`) for the grades given:
rescaled proportionally (rounded to the exam's step), or kept (capped to the new maximum) and
marked « à revoir ». Every grade always stays within the maximum it is out of, which is its
question's current one (and a database constraint holds points ≤ max_points).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models, transaction
from django.db.models import Max
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..engine.schema import normalise_points
from ..errors import WorkflowError
from ..models import Copy, Exam, Grade, GradeEdit, Question
from .review import appreciation_mark_stale


class GradesChoice(models.TextChoices):
    """What becomes of the grades already given when the barème changes."""

    RESCALE = "rescale", gettext_lazy("Mettre à l'échelle (proportionnellement, arrondi au pas)")
    KEEP = "keep", gettext_lazy("Garder les notes et les marquer « à revoir »")
    DELETE = "delete", gettext_lazy("Retirer la question et ses notes")


class GradesChoiceNeeded(WorkflowError):
    """The change touches grades already given: the teacher must say what becomes of them."""

    def __init__(self, *, graded: int, choices: list[GradesChoice]):
        super().__init__(
            ngettext(
                "%(count)s copie est déjà notée sur cette question : choisissez ce que devient sa note.",
                "%(count)s copies sont déjà notées sur cette question : choisissez ce que deviennent leurs notes.",
                graded,
            )
            % {"count": graded}
        )
        self.graded = graded
        self.choices = choices


def _exam_lock(exam: Exam) -> Exam:
    """The exam's row locked: a job cannot start (its status UPDATE waits) while the barème changes."""
    locked = Exam.objects.select_for_update().get(pk=exam.pk)
    if locked.status == Exam.Status.GRADING:
        raise WorkflowError(_("Le barème ne peut pas changer pendant une correction."))
    return locked


def _graded_copies(exam: Exam) -> list[Copy]:
    return list(Copy.objects.filter(exam=exam, grades__isnull=False).distinct())


def question_add(*, exam: Exam, label: str, max_points: Decimal, criteria: str = "", on_grades: str = "") -> Question:
    """A new last question. Once copies are graded, only with on_grades=keep: each graded copy
    gets a grade of 0 to fill in, « à revoir » (its total stays the sum of what is shown)."""
    with transaction.atomic():
        locked = _exam_lock(exam)
        graded = _graded_copies(locked)
        if graded and on_grades != GradesChoice.KEEP:
            raise GradesChoiceNeeded(graded=len(graded), choices=[GradesChoice.KEEP])
        last = locked.questions.aggregate(m=Max("order"))["m"]
        question = Question.objects.create(
            exam=locked, order=0 if last is None else last + 1, label=label, max_points=max_points, criteria=criteria
        )
        Grade.objects.bulk_create(
            Grade(
                copy=copy,
                question=question,
                points=Decimal(0),
                ai_points=Decimal(0),
                max_points=max_points,
                resolution=Grade.Resolution.PENDING,
                needs_review=True,
            )
            for copy in graded
        )
        Copy.objects.filter(pk__in=[copy.pk for copy in graded]).update(reviewed=False)
        appreciation_mark_stale(copy_ids=[copy.pk for copy in graded])
        return question


def question_update(
    *, question: Question, label: str, max_points: Decimal, criteria: str = "", on_grades: str = "", user=None
) -> Question:
    """Label and criteria change freely; the points, once graded, with the teacher's choice."""
    with transaction.atomic():
        exam = _exam_lock(question.exam)
        locked = Question.objects.select_for_update().get(pk=question.pk)
        if max_points != locked.max_points:
            grades = list(Grade.objects.select_for_update().filter(question=locked).order_by("pk"))
            if grades and on_grades not in (GradesChoice.RESCALE, GradesChoice.KEEP):
                raise GradesChoiceNeeded(graded=len(grades), choices=[GradesChoice.RESCALE, GradesChoice.KEEP])
            keep = on_grades == GradesChoice.KEEP
            _grades_remax(grades, maximum=max_points, step=exam.rounding_step, keep=keep, user=user)
        locked.label, locked.max_points, locked.criteria = label, max_points, criteria
        locked.save(update_fields=["label", "max_points", "criteria"])
    question.label, question.max_points, question.criteria = label, max_points, criteria
    return question


def _grades_remax(grades: list[Grade], *, maximum: Decimal, step: Decimal, keep: bool, user) -> None:
    """Each grade out of `maximum`: rescaled, or kept (capped) and « à revoir »; all audited."""
    action = GradeEdit.Action.KEEP if keep else GradeEdit.Action.RESCALE
    edits = []
    for grade in grades:
        before_max, before_points = grade.max_points, grade.points
        if keep:
            grade.points = _capped(grade.points, maximum=maximum, step=step)
            grade.ai_points = _capped(grade.ai_points, maximum=maximum, step=step)
            grade.needs_review = True
        else:
            grade.points = _rescaled(grade.points, old=before_max, new=maximum, step=step)
            grade.ai_points = _rescaled(grade.ai_points, old=before_max, new=maximum, step=step)
        grade.max_points = maximum
        grade.edited = grade.points != grade.ai_points
        audit = {"grade": grade, "user": user, "action": action}
        edits.append(GradeEdit(**audit, field="max_points", before=str(before_max), after=str(maximum)))
        if grade.points != before_points:
            edits.append(GradeEdit(**audit, field="points", before=str(before_points), after=str(grade.points)))
    Grade.objects.bulk_update(grades, ["points", "ai_points", "max_points", "edited", "needs_review"])
    GradeEdit.objects.bulk_create(edits)
    appreciation_mark_stale(copy_ids=[grade.copy_id for grade in grades])
    if keep:
        Copy.objects.filter(grades__in=grades).update(reviewed=False)


def _rescaled(points: Decimal, *, old: Decimal, new: Decimal, step: Decimal) -> Decimal:
    if not old:
        return Decimal("0.00")
    return normalise_points(points * new / old, maximum=new, step=step)


def _capped(points: Decimal, *, maximum: Decimal, step: Decimal) -> Decimal:
    return points if points <= maximum else normalise_points(maximum, maximum=maximum, step=step)


def question_delete(*, question: Question, on_grades: str = "") -> None:
    """Removes a question; once graded, only with on_grades=delete (its grades go with it)."""
    with transaction.atomic():
        _exam_lock(question.exam)
        graded = Grade.objects.filter(question=question).count()
        if graded and on_grades != GradesChoice.DELETE:
            raise GradesChoiceNeeded(graded=graded, choices=[GradesChoice.DELETE])
        graded_copies = Grade.objects.filter(question=question).values_list("copy_id", flat=True)
        appreciation_mark_stale(copy_ids=list(graded_copies))
        question.delete()


def question_move(*, question: Question, direction: str) -> None:
    """Swaps the question with its neighbour; positions are renumbered 0..n-1."""
    with transaction.atomic():
        exam = _exam_lock(question.exam)
        ids = list(exam.questions.order_by("order", "id").values_list("id", flat=True))
        i = ids.index(question.pk)
        j = i - 1 if direction == "up" else i + 1
        if 0 <= j < len(ids):
            ids[i], ids[j] = ids[j], ids[i]
        for position, pk in enumerate(ids):
            Question.objects.filter(pk=pk).update(order=position)


def bareme_replace(*, exam: Exam, rows: list[dict]) -> list[Question]:
    """Replaces the barème by the confirmed rows (only before any grade exists)."""
    if not rows:
        raise WorkflowError(_("Gardez au moins une question."))
    with transaction.atomic():
        _exam_lock(exam)
        if Grade.objects.filter(question__exam=exam).exists():
            raise WorkflowError(_("Des copies sont déjà notées sur ce barème : modifiez les questions une à une."))
        exam.questions.all().delete()
        return Question.objects.bulk_create(
            Question(exam=exam, order=i, label=r["label"], max_points=r["max_points"], criteria=r.get("criteria", ""))
            for i, r in enumerate(rows)
        )
