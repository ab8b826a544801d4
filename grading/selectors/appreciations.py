"""The copies « Rédiger les appréciations manquantes » drafts, and its latest pass."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from ..models import AppreciationRun, Copy, Exam, Grade


def appreciations_missing(*, exam: Exam) -> QuerySet[Copy]:
    """Graded copies with no appréciation at all: never drafted, never written by the teacher
    (one they emptied after a draft is theirs to leave empty). In the class's order of arrival."""
    return (
        exam.copies.filter(status=Copy.Status.DONE, appreciation="", appreciation_ai="")
        .filter(Exists(Grade.objects.filter(copy=OuterRef("pk"))))
        .order_by("pk")
    )


def appreciation_run_latest(*, exam: Exam) -> AppreciationRun | None:
    return AppreciationRun.objects.filter(exam=exam).order_by("-pk").first()
