"""What the calibration round reads: the copies it may take, the blind grading form, and the
figures once the AI has graded the same copies (engine.metrics: exact and within-one-step
agreement, mean absolute difference, QWK on the totals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from ..engine.metrics import Agreement, agreement, quadratic_weighted_kappa
from ..models import Calibration, CalibrationGrade, Copy, Exam, Grade, GradingJob, Page, Question
from .exams import gradable_copies

# Below this many copies, QWK on the totals is said to be indicative only.
INDICATIVE_BELOW = 5
# The largest gaps shown, with the AI's reading and reasoning.
GAPS_SHOWN = 5


def exam_calibration(*, exam: Exam) -> Calibration | None:
    return Calibration.objects.filter(exam=exam).first()


def calibration_candidates(*, exam: Exam) -> QuerySet[Copy]:
    """Copies a calibration round may take: ready to grade and never graded by the AI (so its
    grades cannot be seen before the teacher's), in upload order."""
    return gradable_copies(exam).filter(grades__isnull=True).order_by("id")


def copy_regrade_choices(*, copy_id: int) -> tuple[bool, dict[int, Decimal]]:
    """What the grades' writing follows, in one read: whether the teacher asked to replace their
    edits (Copy.regrade_overwrite), and the teacher's calibration points of the copy per question id
    (empty for most copies). A plain join, one row per calibration grade (or one without any):
    cheaper to build than an aggregate."""
    rows = list(
        Copy.objects.filter(pk=copy_id).values_list(
            "regrade_overwrite", "calibration_grades__question_id", "calibration_grades__points"
        )
    )
    calibrated = {question_id: points for _overwrite, question_id, points in rows if question_id is not None}
    return (rows[0][0] if rows else False), calibrated


def calibration_copies(*, calibration: Calibration) -> list[Copy]:
    """The round's copies with their pages, in upload order (the blind form: no grade read)."""
    return list(calibration.copies.order_by("id").prefetch_related(Prefetch("pages", Page.objects.order_by("index"))))


@dataclass(frozen=True)
class Pair:
    """One question of one copy: the teacher's points and the AI's, with the AI's reading."""

    copy: Copy
    question: Question
    teacher: Decimal
    ai: Decimal
    reading: str
    reasoning: str

    @property
    def gap(self) -> Decimal:
        return abs(self.teacher - self.ai)


@dataclass(frozen=True)
class QuestionFigures:
    question: Question
    figures: Agreement


@dataclass(frozen=True)
class CalibrationResults:
    calibration: Calibration
    running: bool
    compared: int  # copies graded by both on every question
    overall: Agreement
    questions: list[QuestionFigures]
    totals_qwk: float | None
    gaps: list[Pair]
    missing: list[Copy] = field(default_factory=list)  # not graded by the AI (failed, cancelled…)

    @property
    def indicative(self) -> bool:
        return self.compared < INDICATIVE_BELOW


def calibration_results(*, calibration: Calibration) -> CalibrationResults:
    """Per question and overall figures, QWK on the totals, the largest gaps first."""
    exam = calibration.exam
    step = exam.rounding_step
    questions = list(exam.questions.all())
    copies = list(calibration.copies.order_by("id"))
    teacher = {
        (grade.copy_id, grade.question_id): grade.points
        for grade in CalibrationGrade.objects.filter(calibration=calibration)
    }
    ai = {
        (grade.copy_id, grade.question_id): grade
        for grade in Grade.objects.filter(copy__in=copies).exclude(resolution=Grade.Resolution.PENDING)
    }
    running = (
        calibration.job_id is not None
        and GradingJob.objects.filter(pk=calibration.job_id, status=GradingJob.Status.RUNNING).exists()
    )
    pairs: list[Pair] = []
    by_copy: dict[int, list[Pair]] = {}
    missing = []
    for copy in copies:
        graded = copy.status == Copy.Status.DONE
        if not graded:
            missing.append(copy)
            continue
        for question in questions:
            key = (copy.pk, question.pk)
            if key in teacher and key in ai:
                grade = ai[key]
                pair = Pair(copy, question, teacher[key], grade.ai_points, grade.reading, grade.reasoning)
                pairs.append(pair)
                by_copy.setdefault(copy.pk, []).append(pair)
    lines = []
    for question in questions:
        own = [pair for pair in pairs if pair.question.pk == question.pk]
        lines.append(
            QuestionFigures(
                question=question,
                figures=agreement([p.teacher for p in own], [p.ai for p in own], step),
            )
        )
    complete = [copy_pairs for copy_pairs in by_copy.values() if len(copy_pairs) == len(questions)]
    teacher_totals = [sum((p.teacher for p in copy_pairs), Decimal(0)) for copy_pairs in complete]
    ai_totals = [sum((p.ai for p in copy_pairs), Decimal(0)) for copy_pairs in complete]
    # The grid of QWK on totals runs from 0 to the barème's total (a total over it: a question's
    # maximum lowered since the teacher graded, so the grid stretches to it).
    high = max([sum((q.max_points for q in questions), Decimal(0)), *teacher_totals, *ai_totals])
    return CalibrationResults(
        calibration=calibration,
        running=running,
        compared=len(complete),
        overall=agreement([p.teacher for p in pairs], [p.ai for p in pairs], step),
        questions=lines,
        totals_qwk=quadratic_weighted_kappa(teacher_totals, ai_totals, step, low=0, high=high) if complete else None,
        gaps=sorted((p for p in pairs if p.gap), key=lambda p: (-p.gap, p.copy.pk, p.question.order))[:GAPS_SHOWN],
        missing=missing,
    )
