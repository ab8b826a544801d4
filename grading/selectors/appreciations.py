"""The copies « Rédiger les appréciations manquantes » drafts, and its latest pass; a copy's
appréciation block alone."""

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


def copy_appreciation_block(*, copy: Copy) -> dict[str, object]:
    """What the copy page's appréciation block shows, for its htmx answer (the page's is
    copy_page_get): the copy, and whether it has grades for the model to draft from."""
    return {"copy": copy, "has_grades": copy.grades.exists()}
