"""The class summary page: how the class did on each question (from the grades alone, no
model), the questions it failed most, and the summary's text."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..models import ClassSummary, Exam, Grade
from .review import Review, review_get

# The questions shown as "failed most": the lowest average share of the points, at most this
# many, and only those under FAILED_SHARE (a class that did well everywhere failed nothing).
FAILED_MOST = 3
FAILED_SHARE = 0.5


@dataclass(frozen=True)
class QuestionResult:
    number: int
    label: str
    maximum: Decimal
    graded: int
    average: float | None  # points
    under_half: int  # students with less than half of its points

    @property
    def share(self) -> float | None:
        """The class's average as a share of the question's points (0 … 1)."""
        if self.average is None or not self.maximum:
            return None
        return self.average / float(self.maximum)

    @property
    def percent(self) -> int | None:
        share = self.share
        return None if share is None else round(share * 100)


@dataclass(frozen=True)
class ClassResults:
    exam: Exam
    questions: list[QuestionResult]  # in barème order
    failed_most: list[QuestionResult]  # lowest share first
    graded: int  # copies with a total
    average: float | None
    median: float | None
    bareme_total: Decimal
    summary: ClassSummary | None


def class_results(*, exam: Exam, review: Review | None = None) -> ClassResults:
    """From the review grid's grades (its three queries) and the summary's row."""
    review = review or review_get(exam=exam)
    questions = []
    for index, question in enumerate(review.questions):
        points = [float(cell.points) for row in review.rows if (cell := row.cells[index]) is not None]
        half = float(question.max_points) / 2
        questions.append(
            QuestionResult(
                number=index + 1,
                label=question.label,
                maximum=question.max_points,
                graded=len(points),
                average=sum(points) / len(points) if points else None,
                under_half=sum(1 for value in points if value < half),
            )
        )
    ranked = sorted((q for q in questions if q.share is not None), key=lambda q: (q.share, q.number))
    failed = [q for q in ranked if q.share is not None and q.share < FAILED_SHARE][:FAILED_MOST]
    total = review.stats[-1]
    return ClassResults(
        exam=exam,
        questions=questions,
        failed_most=failed,
        graded=total.count,
        average=total.mean,
        median=total.median,
        bareme_total=review.bareme_total,
        summary=ClassSummary.objects.filter(exam=exam).first(),
    )


def class_summary_inputs(*, exam: Exam, review: Review | None = None, per_question: int = 6) -> list[dict]:
    """What the model reads for the summary: per question its figures and a few readings, the
    weakest and the strongest answers alternately (both sides of the class), never a name."""
    review = review or review_get(exam=exam)
    results = class_results(exam=exam, review=review)
    inputs = []
    for index, result in enumerate(results.questions):
        cells = sorted(
            (cell for row in review.rows if (cell := row.cells[index]) is not None and cell.reading.strip()),
            key=lambda cell: (cell.points, cell.pk),
        )
        picked: list[Grade] = []
        low, high = 0, len(cells) - 1
        while low <= high and len(picked) < per_question:
            picked.append(cells[low])
            low += 1
            if low <= high and len(picked) < per_question:
                picked.append(cells[high])
                high -= 1
        inputs.append(
            {
                "label": result.label,
                "max": f"{result.maximum.normalize():f}",
                "average": None if result.average is None else round(result.average, 2),
                "under_half": result.under_half,
                "graded": result.graded,
                "readings": [{"points": f"{cell.points.normalize():f}", "reading": cell.reading} for cell in picked],
            }
        )
    return inputs
