"""« Accord IA / enseignant »: how the teacher's final grades stand against the AI's.

Every grade the engine gave keeps its points (`Grade.ai_points`) beside the final ones
(`Grade.points`, the teacher's when edited; each edit is audited in GradeEdit): a grade is
left as the AI graded it when both are equal, changed otherwise, by |points − ai_points|.
Grades the engine never gave (a question added after grading, « à noter ») are left out.

Read with one aggregate query per page: the exam page (per question and overall), the
dashboard (per exam on the page, and over the teacher's recent exams), the JSON export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Abs, Coalesce

from ..models import Exam, Grade, Question

# The dashboard's figure covers the teacher's last exams that have grades from the AI.
RECENT_EXAMS = 10

_GAP: DecimalField = DecimalField(max_digits=12, decimal_places=2)


@dataclass(frozen=True)
class AgreementFigures:
    """AI grades, how many the teacher left as they were, and the gaps of those changed."""

    graded: int = 0
    kept: int = 0
    gap_sum: Decimal = Decimal(0)

    @property
    def changed(self) -> int:
        return self.graded - self.kept

    @property
    def kept_share(self) -> float | None:
        """The share of AI grades left as the AI gave them (None without any)."""
        return self.kept / self.graded if self.graded else None

    @property
    def kept_percent(self) -> float | None:
        return None if self.kept_share is None else 100 * self.kept_share

    @property
    def mean_gap(self) -> Decimal | None:
        """The mean |points − ai_points| of the grades the teacher changed (None when none was)."""
        return (self.gap_sum / self.changed).quantize(Decimal("0.01")) if self.changed else None

    def as_json(self) -> dict[str, Any]:
        return {
            "ai_grades": self.graded,
            "kept": self.kept,
            "changed": self.changed,
            "kept_share": round(self.kept_share, 4) if self.kept_share is not None else None,
            "mean_gap_changed": str(self.mean_gap) if self.mean_gap is not None else None,
        }


@dataclass(frozen=True)
class QuestionAgreement:
    question: Question
    figures: AgreementFigures


@dataclass(frozen=True)
class ExamAgreement:
    overall: AgreementFigures
    questions: list[QuestionAgreement]

    def as_json(self) -> dict[str, Any]:
        return self.overall.as_json() | {
            "questions": [{"question": line.question.pk} | line.figures.as_json() for line in self.questions]
        }


def _ai_grades() -> QuerySet[Grade]:
    return Grade.objects.exclude(resolution=Grade.Resolution.PENDING)


def _figures(row: dict[str, Any]) -> AgreementFigures:
    return AgreementFigures(graded=row["graded"], kept=row["kept"], gap_sum=row["gap"])


def _sum(figures: Iterable[AgreementFigures]) -> AgreementFigures:
    graded, kept, gap = 0, 0, Decimal(0)
    for each in figures:
        graded, kept, gap = graded + each.graded, kept + each.kept, gap + each.gap_sum
    return AgreementFigures(graded=graded, kept=kept, gap_sum=gap)


def _aggregates() -> dict[str, Any]:
    return {
        "graded": Count("id"),
        "kept": Count("id", filter=Q(points=F("ai_points"))),
        "gap": Coalesce(
            Sum(Abs(F("points") - F("ai_points")), output_field=_GAP), Value(Decimal(0)), output_field=_GAP
        ),
    }


def exam_agreement(*, exam: Exam) -> ExamAgreement:
    """Per question (in the barème's order) and overall, in one query."""
    ai = ~Q(grades__resolution=Grade.Resolution.PENDING)
    questions = exam.questions.annotate(
        graded=Count("grades", filter=ai),
        kept=Count("grades", filter=ai & Q(grades__points=F("grades__ai_points"))),
        gap=Coalesce(
            Sum(Abs(F("grades__points") - F("grades__ai_points")), filter=ai, output_field=_GAP),
            Value(Decimal(0)),
            output_field=_GAP,
        ),
    ).order_by("order", "id")
    lines = [
        QuestionAgreement(
            question=question,
            figures=AgreementFigures(graded=question.graded, kept=question.kept, gap_sum=question.gap),
        )
        for question in questions
    ]
    return ExamAgreement(overall=_sum(line.figures for line in lines), questions=lines)


def exams_agreement(*, exam_ids: Sequence[int]) -> dict[int, AgreementFigures]:
    """Each exam's overall figures (the dashboard's rows), in one query."""
    rows = (
        _ai_grades()
        .filter(copy__exam_id__in=list(exam_ids))
        .values(exam_id=F("copy__exam_id"))
        .annotate(**_aggregates())
        .order_by()
    )
    return {row["exam_id"]: _figures(row) for row in rows}


def recent_agreement(*, user, limit: int | None = None) -> tuple[AgreementFigures, int]:
    """The figures over the teacher's `limit` most recent exams graded by the AI, and how many
    exams that is (one query: the exams are a subquery)."""
    recent = (
        Exam.objects.filter(owner=user)
        .filter(Exists(_ai_grades().filter(copy__exam=OuterRef("pk"))))
        .order_by("-created_at", "-pk")
        .values("pk")[: limit or RECENT_EXAMS]
    )
    row = (
        _ai_grades().filter(copy__exam__in=recent).aggregate(exams=Count("copy__exam", distinct=True), **_aggregates())
    )
    return _figures(row), row["exams"]
