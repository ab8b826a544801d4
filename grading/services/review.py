"""The teacher's review: grade and feedback edits (audited), restore, a double-corrected
answer's pick (A, B or their mean), one grade for a group of answers and answers marked
reviewed (grade by question), the copy's appréciation, reviewed flag, renaming."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from ..engine.schema import normalise_points
from ..errors import WorkflowError
from ..models import Copy, Grade, GradeEdit
from ..selectors.by_question import REVIEWED_FIELD, reviewed_grade_ids
from ..selectors.double_correction import grade_picks


def _decimal(value: Decimal) -> str:
    """« 2,5 » in French, "2.5" in English (the reader's language, like the grid)."""
    return formats.number_format(value.normalize(), use_l10n=True)


def points_check(*, points: Decimal, max_points: Decimal, step: Decimal) -> None:
    if not points.is_finite():
        raise WorkflowError(_("Saisissez un nombre, par exemple 2,5."))
    if points < 0 or points > max_points:
        raise WorkflowError(_("La note doit être entre 0 et %(max)s.") % {"max": _decimal(max_points)})
    if step and (points / step) % 1 != 0:
        raise WorkflowError(_("La note doit être un multiple de %(step)s.") % {"step": _decimal(step)})


def _grade_set(*, grade: Grade, user, points: Decimal, action: str) -> Grade:
    with transaction.atomic():
        locked = Grade.objects.select_for_update().get(pk=grade.pk)
        before = locked.points
        # The teacher's points settle a grade left "à revoir" by a barème change, even unchanged.
        if before == points and not locked.needs_review:
            return locked
        # The engine's feedback kept beside the old points is asked about again (FEEDBACK_STALE).
        locked.feedback_kept = locked.feedback_kept and before == points
        locked.points = points
        locked.edited = points != locked.ai_points
        locked.needs_review = False
        locked.save(update_fields=["points", "edited", "needs_review", "feedback_kept", "updated_at"])
        if before != points:
            GradeEdit.objects.create(
                grade=locked, user=user, field="points", action=action, before=str(before), after=str(points)
            )
            appreciation_mark_stale(copy_ids=[locked.copy_id])
    grade.points, grade.edited, grade.needs_review = locked.points, locked.edited, locked.needs_review
    return grade


def grade_edit(*, grade: Grade, user, points: Decimal) -> Grade:
    """The teacher's points for one answer, validated (0..max, rounding step) and audited."""
    points_check(points=points, max_points=grade.max_points, step=grade.copy.exam.rounding_step)
    return _grade_set(grade=grade, user=user, points=points, action=GradeEdit.Action.EDIT)


def grade_restore(*, grade: Grade, user) -> Grade:
    """Back to the engine's points; the restore is audited like any edit."""
    return _grade_set(grade=grade, user=user, points=grade.ai_points, action=GradeEdit.Action.RESTORE)


def grade_pick(*, grade: Grade, user, choice: str) -> Grade:
    """A double-corrected answer: the teacher takes grader A's points, B's, or their mean
    ("a", "b", "mean"), on the question's current maximum; audited like any points edit."""
    picks = grade_picks(grade=grade)
    if picks is None:
        raise WorkflowError(_("Cette note ne vient pas d'une double correction : saisissez-la."))
    if choice not in picks:
        raise WorkflowError(_("Choisissez le correcteur A, le correcteur B ou leur moyenne."))
    return _grade_set(grade=grade, user=user, points=picks[choice], action=GradeEdit.Action.EDIT)


def grades_group_set(*, grades: list[Grade], user, points: Decimal, step: Decimal) -> int:
    """One grade for answers read the same (grade by question): checked against each one's
    maximum and the exam's step before any is stored, then all stored together, each change
    audited like a points edit. Returns how many changed."""
    if not grades:
        raise WorkflowError(_("Choisissez au moins une réponse."))
    for maximum in sorted({grade.max_points for grade in grades}):
        points_check(points=points, max_points=maximum, step=step)
    changed = 0
    with transaction.atomic():
        for grade in grades:
            before = grade.points
            value = normalise_points(points, maximum=grade.max_points, step=step)
            changed += _grade_set(grade=grade, user=user, points=value, action=GradeEdit.Action.EDIT).points != before
    return changed


def grades_reviewed_mark(*, grades: list[Grade], user) -> int:
    """Answers the teacher has looked at (grade by question): each one not reviewed yet gets
    an audit entry and leaves « à revoir »; a copy whose every answer is now reviewed is
    marked reviewed (it leaves the review queue). Returns how many were marked."""
    already = reviewed_grade_ids(grades=grades)
    marked = [grade for grade in grades if grade.pk not in already]
    if not marked:
        return 0
    copy_ids = {grade.copy_id for grade in marked}
    with transaction.atomic():
        Grade.objects.filter(pk__in=[grade.pk for grade in marked], needs_review=True).update(
            needs_review=False, updated_at=timezone.now()
        )
        GradeEdit.objects.bulk_create(
            GradeEdit(grade=grade, user=user, field=REVIEWED_FIELD, action=GradeEdit.Action.EDIT, before="0", after="1")
            for grade in marked
        )
        unreviewed = Grade.objects.filter(copy_id__in=copy_ids).filter(
            Q(needs_review=True) | ~Exists(GradeEdit.objects.filter(grade=OuterRef("pk"), field=REVIEWED_FIELD))
        )
        Copy.objects.filter(pk__in=copy_ids).exclude(pk__in=unreviewed.values("copy_id")).update(
            reviewed=True, updated_at=timezone.now()
        )
    for grade in marked:
        grade.needs_review = False
    return len(marked)


def copy_reviewed_set(*, copy: Copy, reviewed: bool) -> Copy:
    copy.reviewed = reviewed
    copy.save(update_fields=["reviewed", "updated_at"])
    return copy


def copy_rename(*, copy: Copy, student_label: str) -> Copy:
    copy.student_label = student_label.strip()[:200]
    copy.save(update_fields=["student_label", "updated_at"])
    return copy


def appreciation_mark_stale(*, copy_ids: list[int]) -> int:
    """Points changed after the appréciation was drafted: it may no longer agree with them."""
    return Copy.objects.filter(pk__in=copy_ids).exclude(appreciation_ai="").update(appreciation_stale=True)


FEEDBACK_MAX = 2000


def _feedback_set(*, grade: Grade, user, feedback: str, action: str) -> Grade:
    with transaction.atomic():
        locked = Grade.objects.select_for_update().get(pk=grade.pk)
        before = locked.feedback
        if before != feedback:
            locked.feedback = feedback
            locked.save(update_fields=["feedback", "updated_at"])
            GradeEdit.objects.create(
                grade=locked, user=user, field="feedback", action=action, before=before, after=feedback
            )
    grade.feedback = locked.feedback
    return grade


def grade_feedback_edit(*, grade: Grade, user, feedback: str) -> Grade:
    """The teacher's feedback to the student on one answer, audited like points."""
    feedback = feedback.strip()
    if len(feedback) > FEEDBACK_MAX:
        raise WorkflowError(_("L'appréciation dépasse %(max)s caractères.") % {"max": FEEDBACK_MAX})
    return _feedback_set(grade=grade, user=user, feedback=feedback, action=GradeEdit.Action.EDIT)


def grade_feedback_restore(*, grade: Grade, user) -> Grade:
    """Back to the engine's feedback; audited."""
    return _feedback_set(grade=grade, user=user, feedback=grade.ai_feedback, action=GradeEdit.Action.RESTORE)


FEEDBACK_KEPT_FIELD = "feedback_kept"  # GradeEdit.field of « Garder le commentaire »


def grade_feedback_keep(*, grade: Grade, user) -> Grade:
    """The teacher confirms the engine's feedback beside the points they changed: it is no
    longer « à revoir » and exports print it again. Audited."""
    with transaction.atomic():
        locked = Grade.objects.select_for_update().get(pk=grade.pk)
        if not locked.feedback_kept:
            locked.feedback_kept = True
            locked.save(update_fields=["feedback_kept", "updated_at"])
            GradeEdit.objects.create(
                grade=locked, user=user, field=FEEDBACK_KEPT_FIELD, action=GradeEdit.Action.EDIT, before="0", after="1"
            )
    grade.feedback_kept = True
    return grade


def copy_appreciation_edit(*, copy: Copy, appreciation: str) -> Copy:
    """The teacher's general appréciation (what exports and annotated PDFs show)."""
    appreciation = appreciation.strip()
    if len(appreciation) > FEEDBACK_MAX:
        raise WorkflowError(_("L'appréciation dépasse %(max)s caractères.") % {"max": FEEDBACK_MAX})
    copy.appreciation = appreciation
    copy.save(update_fields=["appreciation", "updated_at"])
    return copy


def copy_appreciation_restore(*, copy: Copy) -> Copy:
    """Back to the model's draft."""
    copy.appreciation = copy.appreciation_ai
    copy.save(update_fields=["appreciation", "updated_at"])
    return copy
