"""Owner-scoped lookups: every read by id goes through one of these, so another teacher's id
is a 404 (tests/grading/workflow/test_isolation.py walks every URL to prove it); and the
dashboard's list of exams with their figures."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404

from usage.selectors import usage_exam_total_cost_subquery

from ..models import Copy, Exam, Grade, Page, Proposal, Question, SourceFile

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class DashboardFigures(TypedDict):
        copies_count: int
        graded_copies: int
        points_sum: Decimal | None
        bareme_total: Decimal
        cost: Decimal | None

    DashboardExam = WithAnnotations[Exam, DashboardFigures]

_POINTS: DecimalField = DecimalField(max_digits=10, decimal_places=2)


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


def proposal_get(*, user, pk: int) -> Proposal:
    return get_object_or_404(Proposal.objects.select_related("exam", "source"), pk=pk, exam__owner=user)


def page_get(*, user, copy_pk: int, index: int) -> Page:
    return get_object_or_404(Page, copy_id=copy_pk, index=index, copy__exam__owner=user)


def _per_exam(queryset: QuerySet, expression, output_field) -> Subquery:
    # One correlated subquery per figure instead of joins: joining copies, grades and
    # ledger rows together would multiply the sums.
    return Subquery(
        queryset.filter(exam_id=OuterRef("pk")).order_by().values("exam_id").annotate(v=expression).values("v"),
        output_field=output_field,
    )


def exams_for_dashboard(*, user, status: str = "") -> QuerySet[DashboardExam]:
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


def exam_average(exam: DashboardExam) -> Decimal | None:
    """The class average of totals, from the dashboard annotations."""
    if not exam.graded_copies or exam.points_sum is None:
        return None
    return exam.points_sum / exam.graded_copies
