"""What the teacher's "copies handed back" page reads: each graded copy, its student's address
and its links' state (open links, latest expiry, openings); the students' regrade requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone

from ..models import Copy, Exam, RegradeRequest


def returnable_copies(*, exam: Exam) -> QuerySet[Copy]:
    """The copies that can be handed back: the graded ones, by student."""
    return exam.copies.filter(status=Copy.Status.DONE).select_related("student").order_by("student_label", "pk")


@dataclass(frozen=True)
class LinkRow:
    copy: Copy
    email: str
    open_links: int
    expires_at: datetime | None  # the latest of the open links'
    accesses: int
    last_access: datetime | None


def exam_links_overview(*, exam: Exam) -> list[LinkRow]:
    now = timezone.now()
    open_links = Q(links__revoked_at__isnull=True, links__expires_at__gt=now)
    copies = returnable_copies(exam=exam).annotate(
        open_count=Count("links", filter=open_links, distinct=True),
        open_until=Max("links__expires_at", filter=open_links),
        access_count=Count("links__accesses", distinct=True),
        access_last=Max("links__accesses__at"),
    )
    return [
        LinkRow(
            copy=copy,
            email=copy.student.email if copy.student else "",
            open_links=copy.open_count,
            expires_at=copy.open_until,
            accesses=copy.access_count,
            last_access=copy.access_last,
        )
        for copy in copies
    ]


def exam_link_recipients(*, exam: Exam) -> int:
    """Graded copies whose student has an email address in the class list."""
    return returnable_copies(exam=exam).exclude(student__isnull=True).exclude(student__email="").count()


def regrade_requests_open(*, exam: Exam) -> QuerySet[RegradeRequest]:
    """The requests the teacher has not answered yet (the review's queue lists them first)."""
    return (
        RegradeRequest.objects.filter(copy__exam=exam, status=RegradeRequest.Status.OPEN)
        .select_related("copy", "question")
        .order_by("created_at")
    )


def copy_regrade_requests(*, copy: Copy) -> list[RegradeRequest]:
    return list(copy.regrade_requests.select_related("question", "answered_by").order_by("question__order"))


def regrade_request_get(*, user, copy_pk: int, pk: int) -> RegradeRequest:
    return get_object_or_404(
        RegradeRequest.objects.select_related("copy"), pk=pk, copy_id=copy_pk, copy__exam__owner=user
    )
