"""What the exam page reads: its barème and copies, and the state of its grading."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, QuerySet

from ..models import Copy, Exam, GradingJob, Proposal, SourceFile

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class PageTotal(TypedDict):
        page_total: int

    GradableCopy = WithAnnotations[Copy, PageTotal]


def gradable_copies(exam: Exam) -> QuerySet[GradableCopy]:
    """Copies a job would grade: not graded yet (or re-runnable), with their pages rendered."""
    return exam.copies.filter(status__in=Copy.STARTABLE).annotate(page_total=Count("pages")).filter(page_total__gt=0)


def exam_page_get(*, exam: Exam) -> dict[str, Any]:
    """The barème (with its total), the reading of the subject in flight, the copies, and which
    uploads are split or wait for a split."""
    questions = list(exam.questions.all())
    reading = exam.proposals.filter(kind=Proposal.Kind.BAREME, status__in=Proposal.IN_FLIGHT).first()
    copies = list(exam.copies.select_related("source").order_by("id"))
    per_source = Counter(copy.source_id for copy in copies if copy.source_id)
    return {
        "exam": exam,
        "questions": questions,
        "bareme_total": sum((q.max_points for q in questions), Decimal(0)),
        "bareme_locked": exam.status == Exam.Status.GRADING,
        "bareme_reading": reading if reading is not None and reading.waiting else None,
        "copies": copies,
        "split_source_ids": {pk for pk, n in per_source.items() if n > 1},
        "unsplit_sources": list(exam.sources.filter(copies__isnull=True)),
    }


def exam_deferred_count(*, exam: Exam) -> int:
    """Copies a partial launch left waiting for the allowance (services.deferred)."""
    return exam.copies.filter(status=Copy.Status.DEFERRED).count()


def exam_pages_pending(*, exam: Exam) -> int:
    """Copies waiting for their pages to be rendered. Graded or running copies are not "ready"
    either, but saying their pages are still being prepared would be wrong."""
    return exam.copies.filter(status__in=Copy.STARTABLE).annotate(n=Count("pages")).filter(n=0).count()


def exam_running_job(*, exam: Exam) -> GradingJob | None:
    return exam.jobs.filter(status=GradingJob.Status.RUNNING).first()


def source_copies(*, source: SourceFile) -> list[Copy]:
    """The copies already cut from a class PDF, in page order (the split page shows them)."""
    return list(source.copies.order_by("first_page"))
