"""The calibration round, before the bulk run: the teacher picks k copies (or lets Corrigo
pick them across the class) and grades them blind, question by question; submitting starts a
metered job of the same copies (job_start_copies: reserved, every call in the ledger); the
figures compare both (selectors.calibration). The teacher may change the barème's criteria and
run the AI round again, or launch the bulk run, which leaves these copies alone: they are
graded, and their final grades are the teacher's (copy_grading writes them over the AI's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import User

from ..errors import WorkflowError
from ..models import Calibration, CalibrationGrade, Copy, Exam, GradingJob, Question
from ..selectors.calibration import calibration_candidates
from .bareme import question_update
from .estimate import JobEstimate, copies_estimate
from .jobs import job_start_copies
from .review import points_check

CALIBRATION_DEFAULT = 3
CALIBRATION_MAX = 10


class CalibrationGradesInvalid(WorkflowError):
    """Some of the teacher's points are missing or wrong: `errors` says which, per (copy, question)."""

    def __init__(self, errors: dict[tuple[int, int], str]):
        super().__init__(
            ngettext(
                "%(count)s note est à corriger : rien n'a été enregistré.",
                "%(count)s notes sont à corriger : rien n'a été enregistré.",
                len(errors),
            )
            % {"count": len(errors)}
        )
        self.errors = errors


def calibration_spread(copies: Sequence[Copy], count: int) -> list[Copy]:
    """`count` copies spread over the class in its order: the middle of each of `count` equal
    slices (3 of 10: the 2nd, 6th and 9th)."""
    n = len(copies)
    return [copies[(2 * i + 1) * n // (2 * count)] for i in range(count)]


def _startable(exam: Exam) -> None:
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers des élèves ont été supprimés : correction impossible."))
    if exam.jobs.filter(status=GradingJob.Status.RUNNING).exists():
        raise WorkflowError(_("Une correction est déjà en cours pour cet examen."))


def calibration_create(*, exam: Exam, count: int | None = None, copy_ids: Sequence[int] = ()) -> Calibration:
    """A calibration round of the ticked copies (`copy_ids`), or of `count` copies Corrigo
    spreads over the class; among copies never graded by the AI. Its copies are set aside
    (no job takes them) until the teacher has graded them."""
    with transaction.atomic():
        exam = Exam.objects.select_for_update().get(pk=exam.pk)
        if Calibration.objects.filter(exam=exam).exists():
            raise WorkflowError(_("Cet examen a déjà son tour de calibration."))
        if not exam.questions.exists():
            raise WorkflowError(_("Le barème est vide : ajoutez au moins une question avant de lancer la correction."))
        _startable(exam)
        candidates = list(calibration_candidates(exam=exam))
        if copy_ids:
            wanted = set(copy_ids)
            chosen = [copy for copy in candidates if copy.pk in wanted]
            if len(chosen) != len(wanted):
                raise WorkflowError(_("Choisissez des copies prêtes et pas encore corrigées par l'IA."))
        else:
            count = CALIBRATION_DEFAULT if count is None else count
            chosen = []
        most = min(CALIBRATION_MAX, len(candidates))
        size = len(chosen) if copy_ids else count or 0
        if not candidates:
            raise WorkflowError(
                _("Aucune copie prête et pas encore corrigée par l'IA : la calibration est impossible.")
            )
        if not 1 <= size <= most:
            raise WorkflowError(
                ngettext(
                    "Choisissez entre 1 et %(most)s copie.",
                    "Choisissez entre 1 et %(most)s copies.",
                    most,
                )
                % {"most": most}
            )
        if not copy_ids:
            chosen = calibration_spread(candidates, size)
        calibration = Calibration.objects.create(exam=exam)
        calibration.copies.set(chosen)
        # A copy a partial launch left waiting for the allowance is the round's now, not the queue's.
        Copy.objects.filter(pk__in=[copy.pk for copy in chosen], status=Copy.Status.DEFERRED).update(
            status=Copy.Status.QUEUED, updated_at=timezone.now()
        )
        return calibration


def calibration_estimate(*, calibration: Calibration) -> JobEstimate:
    """What the AI round of the calibration's copies should cost. Raises ModelMisconfigured."""
    ids = list(calibration.copies.values_list("pk", flat=True))
    return copies_estimate(exam=calibration.exam, copy_ids=ids)


def _round_start(calibration: Calibration, *, user: User) -> GradingJob:
    exam = calibration.exam
    _startable(exam)
    copies = list(calibration.copies.order_by("id"))
    if not copies:
        raise WorkflowError(_("Les copies de cette calibration ont été retirées."))
    estimate = calibration_estimate(calibration=calibration)
    if estimate.copies != len(copies):
        raise WorkflowError(_("Les pages de ces copies sont encore en préparation : réessayez dans un instant."))
    job = job_start_copies(exam=exam, user=user, copies=copies, estimate=estimate)
    calibration.job = job
    calibration.rounds += 1
    return job


def calibration_submit(
    *, calibration: Calibration, user: User, points: Mapping[tuple[int, int], Decimal | None]
) -> GradingJob:
    """Stores the teacher's points (every question of every copy, checked against its maximum
    and the exam's step) and starts the AI round; all or nothing: a missing or wrong grade
    (CalibrationGradesInvalid), a quota (QuotaExceeded) or a running job store nothing."""
    exam = calibration.exam
    questions = list(exam.questions.all())
    copies = list(calibration.copies.order_by("id"))
    errors: dict[tuple[int, int], str] = {}
    rows = []
    for copy in copies:
        for question in questions:
            value = points.get((copy.pk, question.pk))
            if value is None:
                errors[(copy.pk, question.pk)] = _("Saisissez un nombre, par exemple 2,5.")
                continue
            try:
                points_check(points=value, max_points=question.max_points, step=exam.rounding_step)
            except WorkflowError as error:
                errors[(copy.pk, question.pk)] = error.message
                continue
            rows.append(CalibrationGrade(calibration=calibration, copy=copy, question=question, points=value))
    if errors:
        raise CalibrationGradesInvalid(errors)
    with transaction.atomic():
        locked = Calibration.objects.select_for_update().select_related("exam").get(pk=calibration.pk)
        if locked.status != Calibration.Status.TEACHER:
            raise WorkflowError(_("Vos notes de calibration sont déjà enregistrées."))
        CalibrationGrade.objects.bulk_create(rows)
        locked.status = Calibration.Status.AI
        locked.submitted_by, locked.submitted_at = user, timezone.now()
        job = _round_start(locked, user=user)
        locked.save(update_fields=["status", "submitted_by", "submitted_at", "job", "rounds"])
    calibration.refresh_from_db()
    return job


def calibration_rerun(*, calibration: Calibration, user: User) -> GradingJob:
    """The AI grades the calibration's copies again (after a change of the criteria): a new
    metered job; the teacher's grades stay as they were, and stay the final ones."""
    with transaction.atomic():
        locked = Calibration.objects.select_for_update().select_related("exam").get(pk=calibration.pk)
        if locked.status != Calibration.Status.AI:
            raise WorkflowError(_("Donnez d'abord vos notes aux copies de calibration."))
        job = _round_start(locked, user=user)
        locked.save(update_fields=["job", "rounds"])
    calibration.refresh_from_db()
    return job


def calibration_criteria_update(*, calibration: Calibration, criteria: Mapping[int, str], user: User) -> int:
    """The barème's criteria the teacher adjusted after a round (labels and points unchanged).
    Returns how many questions changed."""
    changed = 0
    for question in Question.objects.filter(exam=calibration.exam, pk__in=list(criteria)).order_by("order", "id"):
        text = criteria[question.pk].strip()
        if text != question.criteria:
            question_update(
                question=question, label=question.label, max_points=question.max_points, criteria=text, user=user
            )
            changed += 1
    return changed


def calibration_delete(*, calibration: Calibration) -> None:
    """Gives up a round the teacher has not graded yet: its copies go back to the bulk run."""
    with transaction.atomic():
        locked = Calibration.objects.select_for_update().get(pk=calibration.pk)
        if locked.status != Calibration.Status.TEACHER:
            raise WorkflowError(_("Cette calibration est déjà corrigée par l'IA : elle reste."))
        locked.delete()
