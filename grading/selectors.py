"""Reads for the teacher's pages. Every lookup by id is scoped to the owner (404 otherwise)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from usage.selectors import usage_exam_total_cost_subquery

from .models import Copy, Exam, Grade, Page, Question, SourceFile

_MONEY = DecimalField(max_digits=14, decimal_places=6)
_POINTS = DecimalField(max_digits=10, decimal_places=2)


def exam_get(*, user, pk: int) -> Exam:
    return get_object_or_404(Exam, pk=pk, owner=user)


def copy_get(*, user, pk: int) -> Copy:
    return get_object_or_404(Copy.objects.select_related("exam", "source"), pk=pk, exam__owner=user)


def grade_get(*, user, pk: int) -> Grade:
    return get_object_or_404(Grade.objects.select_related("copy__exam", "question"), pk=pk, copy__exam__owner=user)


def question_get(*, user, exam_pk: int, pk: int) -> Question:
    return get_object_or_404(Question, pk=pk, exam_id=exam_pk, exam__owner=user)


def source_get(*, user, pk: int) -> SourceFile:
    return get_object_or_404(SourceFile.objects.select_related("exam"), pk=pk, exam__owner=user)


def page_get(*, user, copy_pk: int, index: int) -> Page:
    return get_object_or_404(Page, copy_id=copy_pk, index=index, copy__exam__owner=user)


def _per_exam(queryset: QuerySet, expression, output_field) -> Subquery:
    # One correlated subquery per figure instead of joins: joining copies, grades and
    # ledger rows together would multiply the sums.
    return Subquery(
        queryset.filter(exam_id=OuterRef("pk")).order_by().values("exam_id").annotate(v=expression).values("v"),
        output_field=output_field,
    )


def exams_for_dashboard(*, user, status: str = "") -> QuerySet[Exam]:
    """The teacher's exams, newest first, with copies count, average total, barème total and cost."""
    graded = Grade.objects.annotate(exam_id=F("copy__exam_id"))
    exams = Exam.objects.filter(owner=user)
    if status:
        exams = exams.filter(status=status)
    return exams.order_by("-created_at", "-id").annotate(
        copies_count=Coalesce(_per_exam(Copy.objects.all(), Count("id"), IntegerField()), Value(0)),
        graded_copies=Coalesce(_per_exam(graded, Count("copy_id", distinct=True), IntegerField()), Value(0)),
        points_sum=_per_exam(graded, Sum("points"), _POINTS),
        bareme_total=Coalesce(_per_exam(Question.objects.all(), Sum("max_points"), _POINTS), Value(Decimal(0))),
        cost=usage_exam_total_cost_subquery(),
    )


def exam_average(exam: Exam) -> Decimal | None:
    """The class average of totals, from the dashboard annotations."""
    if not getattr(exam, "graded_copies", 0) or exam.points_sum is None:
        return None
    return exam.points_sum / exam.graded_copies


def exam_bareme_total(*, exam: Exam) -> Decimal:
    return exam.questions.aggregate(t=Sum("max_points"))["t"] or Decimal(0)


# --- Review --------------------------------------------------------------------------------

LOW_CONFIDENCE = 0.6


@dataclass
class ReviewRow:
    copy: Copy
    cells: list[Grade | None]
    total: Decimal | None
    reasons: list[str] = field(default_factory=list)

    @property
    def priority(self) -> int:
        return len(self.reasons)


@dataclass
class Stat:
    label: str
    maximum: Decimal
    count: int
    mean: float | None
    median: float | None
    stdev: float | None
    low: Decimal | None
    high: Decimal | None


@dataclass
class HistogramBar:
    label: str
    count: int
    x: float
    y: float
    height: float

    @property
    def center(self) -> float:
        return self.x + HISTOGRAM_BAR_WIDTH / 2


@dataclass
class Review:
    exam: Exam
    questions: list[Question]
    rows: list[ReviewRow]
    bareme_total: Decimal
    stats: list[Stat]
    histogram: list[HistogramBar]
    queue: list[ReviewRow]


def _stat(label: str, maximum: Decimal, values: list[Decimal]) -> Stat:
    if not values:
        return Stat(label, maximum, 0, None, None, None, None, None)
    floats = [float(v) for v in values]
    return Stat(
        label=label,
        maximum=maximum,
        count=len(values),
        mean=statistics.fmean(floats),
        median=statistics.median(floats),
        stdev=statistics.pstdev(floats) if len(floats) > 1 else 0.0,
        low=min(values),
        high=max(values),
    )


HISTOGRAM_BINS = 10
HISTOGRAM_HEIGHT = 120.0
HISTOGRAM_BAR_WIDTH = 30.0


def _histogram(totals: list[Decimal], bareme_total: Decimal) -> list[HistogramBar]:
    """Totals on /20, in ten bins of two points (20 falls in the last one)."""
    if not bareme_total:
        return []
    counts = [0] * HISTOGRAM_BINS
    for total in totals:
        on_twenty = float(total) * 20 / float(bareme_total)
        counts[min(int(on_twenty // 2), HISTOGRAM_BINS - 1)] += 1
    tallest = max(counts) or 1
    bars = []
    for i, count in enumerate(counts):
        height = HISTOGRAM_HEIGHT * count / tallest
        bars.append(
            HistogramBar(
                label=f"{2 * i}–{2 * i + 2}",
                count=count,
                x=i * (HISTOGRAM_BAR_WIDTH + 6),
                y=HISTOGRAM_HEIGHT - height,
                height=height,
            )
        )
    return bars


def review_get(*, exam: Exam) -> Review:
    """The grid, statistics, histogram and review queue of an exam, in four queries."""
    questions = list(exam.questions.all())
    copies = list(exam.copies.order_by("student_label", "id"))
    grades: dict[tuple[int, int], Grade] = {
        (g.copy_id, g.question_id): g for g in Grade.objects.filter(copy__exam=exam).order_by()
    }
    rows = []
    for copy in copies:
        cells = [grades.get((copy.pk, q.pk)) for q in questions]
        present = [c for c in cells if c is not None]
        total = sum((c.points for c in present), Decimal(0)) if present else None
        reasons = []
        if copy.flagged_manipulation:
            reasons.append(_("Manipulation suspectée"))
        if any(c.disagreement for c in present):
            reasons.append(_("Désaccord entre les modèles"))
        if any(c.confidence < LOW_CONFIDENCE for c in present):
            reasons.append(_("Confiance faible"))
        if copy.status in (Copy.Status.FAILED, Copy.Status.QUOTA_REACHED):
            reasons.append(_("Correction incomplète"))
        rows.append(ReviewRow(copy=copy, cells=cells, total=total, reasons=reasons))
    bareme_total = sum((q.max_points for q in questions), Decimal(0))
    stats = [
        _stat(q.label, q.max_points, [row.cells[i].points for row in rows if row.cells[i] is not None])
        for i, q in enumerate(questions)
    ]
    totals = [row.total for row in rows if row.total is not None]
    stats.append(_stat(str(_("Total")), bareme_total, totals))
    queue = sorted(
        (row for row in rows if row.reasons and not row.copy.reviewed),
        key=lambda row: (not row.copy.flagged_manipulation, -row.priority, row.copy.student_label),
    )
    return Review(
        exam=exam,
        questions=questions,
        rows=rows,
        bareme_total=bareme_total,
        stats=stats,
        histogram=_histogram(totals, bareme_total),
        queue=queue,
    )
