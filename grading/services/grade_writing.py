"""A graded copy's grades written (services.copy_grading, inside the transaction that marks the
copy done): one row per question, created or replaced on a re-run, and what happens to the
teacher's own points there — edits kept unless the teacher asked to replace them, and a
calibration copy's grades given blind by the teacher (services.calibration) kept as its final
ones, each change audited."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from ..engine.grader import CopyOutcome
from ..models import Copy, Grade, GradeEdit, Question
from ..selectors.calibration import copy_regrade_choices


def copy_grades_write(*, copy: Copy, questions: dict[str, Question], outcome: CopyOutcome) -> None:
    """One row per question: created, or replaced on a re-run. On a re-run the engine's points
    and feedback are renewed, but the teacher's edited points, feedback and appréciation stay,
    unless the teacher ticked "replace my edits" (Copy.regrade_overwrite; each replaced edit is
    audited); a drafted appréciation is marked possibly stale."""
    overwrite, calibrated = copy_regrade_choices(copy_id=copy.pk)
    existing = {grade.question_id: grade for grade in Grade.objects.filter(copy=copy)}
    # A calibration copy: the teacher graded it blind first, and those grades are its final ones.
    calibrated = {} if overwrite else calibrated
    created: list[Grade] = []
    updated: list[Grade] = []
    replaced: list[GradeEdit] = []
    calibration_edits: list[tuple[Grade, Decimal]] = []
    for item in outcome.questions:
        question = questions[item.qid]
        grade = existing.get(question.pk) or Grade(copy=copy, question=question)
        points, feedback, needs_review = item.points, item.feedback, False
        if grade.pk:
            if grade.edited and not overwrite:
                points, needs_review = min(grade.points, item.maximum), grade.needs_review
            elif grade.edited and grade.points != item.points:
                replaced.append(_regrade_edit(grade, "points", before=str(grade.points), after=str(item.points)))
            if grade.feedback_edited and not overwrite:
                feedback = grade.feedback
            elif grade.feedback_edited and grade.feedback != item.feedback:
                replaced.append(_regrade_edit(grade, "feedback", before=grade.feedback, after=item.feedback))
        if question.pk in calibrated and not (grade.pk and grade.edited):
            # Not edited: the grade holds the AI's points or the teacher's equal ones (an edit
            # made since, in the review, is kept above like any edit).
            points = min(calibrated[question.pk], item.maximum)
            if points != item.points:
                calibration_edits.append((grade, item.points))
        values = {
            "points": points,
            "ai_points": item.points,
            "max_points": item.maximum,
            "reading": item.reading,
            "reasoning": item.reasoning,
            "feedback": feedback,
            "ai_feedback": item.feedback,
            "confidence": item.confidence,
            "disagreement": item.disagreement,
            "resolution": item.resolution,
            "edited": points != item.points,
            "needs_review": needs_review,
            # A comment the teacher kept stays kept only beside the same text and points.
            "feedback_kept": grade.feedback_kept and feedback == grade.feedback and points == grade.points,
            "audit": item.audit,
            "page": item.page,
            "span_top": item.top,
            "span_bottom": item.bottom,
        }
        for name, value in values.items():
            setattr(grade, name, value)
        grade.updated_at = timezone.now()
        (updated if grade.pk else created).append(grade)
    Grade.objects.bulk_create(created)
    if calibration_edits:
        # Audited like the teacher's edits: the AI's points, then the teacher's calibration grade.
        GradeEdit.objects.bulk_create(
            GradeEdit(
                grade=grade,
                user_id=copy.exam.owner_id,
                field="points",
                action=GradeEdit.Action.CALIBRATION,
                before=str(before),
                after=str(grade.points),
            )
            for grade, before in calibration_edits
        )
    if updated:
        Grade.objects.bulk_update(updated, [*values, "updated_at"])  # each item writes the same fields
        GradeEdit.objects.bulk_create(replaced)
        drafted = Copy.objects.filter(pk=copy.pk).exclude(appreciation_ai="")
        if overwrite:
            drafted.update(appreciation=F("appreciation_ai"), appreciation_stale=True)
        else:
            drafted.update(appreciation_stale=True)


def _regrade_edit(grade: Grade, field: str, *, before: str, after: str) -> GradeEdit:
    return GradeEdit(grade=grade, user=None, field=field, action=GradeEdit.Action.REGRADE, before=before, after=after)
