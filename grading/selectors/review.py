"""What the review pages read: the grid with totals, statistics, histogram and queue of an
exam, and one copy's page (its grades, each grader's answers, its history)."""

from __future__ import annotations

import statistics
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Lower, Trim
from django.utils import formats
from django.utils.translation import gettext as _

from core.numbers import average_text

from ..models import FEEDBACK_STALE, Copy, Exam, Grade, GradeEdit, Question
from .double_correction import grade_double_correction, graders_models

LOW_CONFIDENCE = 0.6
HIGH_CONFIDENCE = 0.85  # at or above: « élevée » (the copy page's meter is green from there)
# A total this many standard deviations from the class mean is queued (with enough totals).
OUTLIER_SIGMAS = 2.0
OUTLIER_MIN_TOTALS = 5
# What the grading prompt asks for a blank answer ("(no answer)"), in either language.
BLANK_READINGS = ("", "(no answer)", "(pas de réponse)", "(aucune réponse)")
HISTOGRAM_BINS = 10
HISTOGRAM_HEIGHT = 120.0
HISTOGRAM_BAR_WIDTH = 30.0


@dataclass
class ReviewRow:
    copy: Copy
    cells: list[Grade | None]
    total: Decimal | None
    reasons: list[str] = field(default_factory=list)

    @property
    def priority(self) -> int:
        return len(self.reasons)

    @property
    def confidence(self) -> float | None:
        """The lowest confidence of its grades (the grid's "confidence" sort)."""
        present = [cell.confidence for cell in self.cells if cell is not None]
        return min(present) if present else None

    @property
    def to_review(self) -> bool:
        return bool(self.reasons) and not self.copy.reviewed


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

    @property
    def count_y(self) -> float:
        """Where the bar's count is written: just above it (the drawing leaves room up there)."""
        return self.y - 3


@dataclass
class Review:
    exam: Exam
    questions: list[Question]
    rows: list[ReviewRow]
    bareme_total: Decimal
    stats: list[Stat]
    histogram: list[HistogramBar]
    queue: list[ReviewRow]
    # The engine's comments left out of exports while they are « à revoir » (FEEDBACK_STALE).
    stale_feedback: int = 0


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


def question_histogram(review: Review, column: int) -> list[HistogramBar]:
    """One question's points across the copies, on /20 like the totals' (the grid filtered to it)."""
    cells = [row.cells[column] for row in review.rows]
    return _histogram([cell.points for cell in cells if cell is not None], review.questions[column].max_points)


def copies_in_order(*, exam: Exam) -> list[Copy]:
    """The grid's order: the class list's (copies matched to nobody last), else by name, as a
    class list is sorted — in Python, since the database's collation may put « dupont » after
    « Zoé » and « Léa » after « Lucas »."""
    copies = exam.copies.annotate(position=F("student__position")) if exam.school_class_id is not None else exam.copies
    return sorted(
        copies.all(),
        key=lambda copy: (
            getattr(copy, "position", None) is None,
            getattr(copy, "position", None) or 0,
            _name_key(copy.student_label),
            copy.pk,
        ),
    )


# What the grid page never reads of a grade (the copy page and the exports do).
GRID_DEFERRED = ("reading", "reasoning", "ai_feedback", "audit", "created_at", "updated_at")


def review_get(*, exam: Exam, for_grid: bool = False) -> Review:
    """The grid, statistics, histogram and review queue of an exam, in three queries whatever
    its size. `for_grid`: without the grades' texts and audit the grid page never shows."""
    questions = list(exam.questions.all())
    copies = list(copies_in_order(exam=exam))
    grade_rows = (
        Grade.objects.filter(copy__exam=exam)
        .order_by()
        .alias(reading_key=Lower(Trim("reading")))
        .annotate(
            blank=ExpressionWrapper(Q(reading_key__in=BLANK_READINGS), output_field=BooleanField()),
            feedback_stale=FEEDBACK_STALE,
        )
    )
    if for_grid:
        grade_rows = grade_rows.defer(*GRID_DEFERRED)
    grades: dict[tuple[int, int], Grade] = {(g.copy_id, g.question_id): g for g in grade_rows}
    rows = []
    for copy in copies:
        cells = [grades.get((copy.pk, q.pk)) for q in questions]
        present = [c for c in cells if c is not None]
        total = sum((c.points for c in present), Decimal(0)) if present else None
        reasons = []
        if copy.flagged_manipulation:
            reasons.append(
                _("Manipulation suspectée : %(reason)s") % {"reason": copy.manipulation_text}
                if copy.manipulation_reason
                else _("Manipulation suspectée")
            )
        if any(c.disagreement for c in present):
            reasons.append(_("Désaccord entre les modèles"))
        if any(c.needs_review for c in present):
            reasons.append(_("Barème modifié : note à revoir"))
        # A low confidence or a blank answer asks for the teacher's eye: once she has changed the
        # points (a calibration copy she graded herself, an edit), she has given it.
        unjudged = [
            (n, c)
            for n, c in enumerate(cells, start=1)
            if c is not None and not c.edited and c.resolution != Grade.Resolution.PENDING
        ]
        if any(c.confidence < LOW_CONFIDENCE for _n, c in unjudged):
            reasons.append(_("Confiance faible"))
        blank = [f"Q{n}" for n, c in unjudged if getattr(c, "blank", False)]
        if blank:
            reasons.append(_("Réponse blanche : %(questions)s") % {"questions": ", ".join(blank)})
        if copy.status in (Copy.Status.FAILED, Copy.Status.QUOTA_REACHED):
            reasons.append(
                _("Correction incomplète : %(reason)s") % {"reason": copy.failure_text}
                if copy.failure_reason
                else _("Correction incomplète")
            )
        rows.append(ReviewRow(copy=copy, cells=cells, total=total, reasons=reasons))
    _outliers_flag(rows)
    bareme_total = sum((q.max_points for q in questions), Decimal(0))
    stats = [
        _stat(q.label, q.max_points, [cell.points for row in rows if (cell := row.cells[i]) is not None])
        for i, q in enumerate(questions)
    ]
    totals = [row.total for row in rows if row.total is not None]
    stats.append(_stat(str(_("Total")), bareme_total, totals))
    queue = sorted(
        (row for row in rows if row.to_review),
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
        stale_feedback=sum(getattr(grade, "feedback_stale", False) for grade in grades.values()),
    )


def _outliers_flag(rows: list[ReviewRow]) -> None:
    """Totals more than OUTLIER_SIGMAS standard deviations from the mean of the graded copies."""
    graded = [row for row in rows if row.total is not None and row.copy.status == Copy.Status.DONE]
    if len(graded) < OUTLIER_MIN_TOTALS:
        return
    totals = [float(row.total) for row in graded if row.total is not None]
    mean, stdev = statistics.fmean(totals), statistics.pstdev(totals)
    if not stdev:
        return
    for row, total in zip(graded, totals, strict=True):
        if abs(total - mean) > OUTLIER_SIGMAS * stdev:
            row.reasons.append(
                _("Total éloigné de la classe : %(total)s pour une moyenne de %(mean)s")
                % {"total": _number(total), "mean": average_text(mean)}
            )


def _number(value: float) -> str:
    return formats.number_format(Decimal(str(value)).normalize(), use_l10n=True)


GRID_SORTS = ("name", "total", "-total", "confidence")


def _name_key(name: str) -> str:
    """Names sorted as a class list is: accents and case ignored (« Élise » between D and F)."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()


def review_rows_select(
    review: Review, *, show: str = "", status: str = "", question: int | None = None, sort: str = ""
) -> tuple[list[ReviewRow], list[int]]:
    """The grid's rows and question columns (0-based) for its filters: `show="review"` the
    copies to review (the queue's), `status` one copy status, `question` one column (1-based);
    `sort` by name, total (ascending or "-total") or lowest confidence first; else the
    class list's order."""
    rows = review.rows
    if show == "review":
        rows = [row for row in rows if row.to_review]
    if status:
        rows = [row for row in rows if row.copy.status == status]
    if sort == "name":
        rows = sorted(rows, key=lambda row: (_name_key(row.copy.student_label), row.copy.pk))
    elif sort in ("total", "-total"):
        graded = [row for row in rows if row.total is not None]
        ungraded = [row for row in rows if row.total is None]
        rows = sorted(graded, key=lambda row: row.total or 0, reverse=sort == "-total") + ungraded
    elif sort == "confidence":
        rows = sorted(rows, key=lambda row: (row.confidence is None, row.confidence or 0.0))
    columns = list(range(len(review.questions)))
    if question is not None and 1 <= question <= len(columns):
        columns = [question - 1]
    return list(rows), columns


# --- One copy ------------------------------------------------------------------------------


def copy_page_get(*, copy: Copy) -> dict[str, Any]:
    """The copy page: per question its grade and, in double correction, both graders side by
    side; the pages, the edit history, the total, and the neighbours in the review's order."""
    exam = copy.exam
    questions = list(exam.questions.all())
    grades = {g.question_id: g for g in copy.grades.annotate(feedback_stale=FEEDBACK_STALE)}
    models = graders_models(copy) if exam.mode == Exam.Mode.DOUBLE else {}
    items = []
    for question in questions:
        grade = grades.get(question.pk)
        double = grade_double_correction(grade=grade, step=exam.rounding_step, models=models) if grade else None
        items.append({"question": question, "grade": grade, "double": double})
    siblings = [sibling.pk for sibling in copies_in_order(exam=exam)]
    index = siblings.index(copy.pk)
    return {
        "copy": copy,
        "exam": exam,
        "items": items,
        "pages": list(copy.pages.all()),
        "edits": list(GradeEdit.objects.filter(grade__copy=copy).select_related("user", "grade__question")),
        "total": sum((g.points for g in grades.values()), Decimal(0)) if grades else None,
        "bareme_total": sum((q.max_points for q in questions), Decimal(0)),
        "previous_pk": siblings[index - 1] if index > 0 else None,
        "next_pk": siblings[index + 1] if index + 1 < len(siblings) else None,
        "double": exam.mode == Exam.Mode.DOUBLE,
        "has_grades": bool(grades),
    }


def feedback_stale_count(*, exam: Exam) -> int:
    """How many of the engine's comments exports leave out while they are « à revoir »."""
    return Grade.objects.filter(copy__exam=exam).alias(stale=FEEDBACK_STALE).filter(stale=True).count()


def grade_feedback_stale(*, grade_id: int) -> bool:
    """Whether the engine's comment on this answer is « à revoir » (FEEDBACK_STALE), as stored now."""
    return Grade.objects.filter(pk=grade_id).alias(stale=FEEDBACK_STALE).filter(stale=True).exists()


def copy_total(*, copy: Copy) -> Decimal | None:
    """The copy's total after an edit (the grid's and the copy page's live figure)."""
    return copy.grades.aggregate(t=Sum("points"))["t"]


def copy_appreciation_stale(*, copy_id: int) -> bool:
    """Whether the copy's appréciation may no longer agree with its points, as stored now."""
    return Copy.objects.filter(pk=copy_id, appreciation_stale=True).exists()
