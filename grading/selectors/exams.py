"""What the exam page reads: its barème and copies, the state of its grading, and its steps
(Barème → Copies → Correction → Revue → Rendu), each done, to do, running or blocked and why."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.template.defaultfilters import floatformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from ..models import Calibration, Copy, Exam, GradingJob, Proposal, Question, SourceFile, StudentLink

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class PageTotal(TypedDict):
        page_total: int

    class PageTotalHandedBack(TypedDict):
        page_total: int
        handed_back: bool
        calibration_held: bool

    GradableCopy = WithAnnotations[Copy, PageTotal]
    PageCopy = WithAnnotations[Copy, PageTotalHandedBack]


def gradable_copies(exam: Exam) -> QuerySet[GradableCopy]:
    """Copies a job would grade: not graded yet (or re-runnable), with their pages rendered,
    but not those a calibration round sets aside until the teacher has graded them (blind)."""
    return (
        exam.copies.filter(status__in=Copy.STARTABLE)
        .exclude(calibrations__status=Calibration.Status.TEACHER)
        .annotate(page_total=Count("pages"))
        .filter(page_total__gt=0)
    )


def copy_held_for_calibration(*, copy: Copy) -> bool:
    """The copy waits for the teacher's calibration grades: no job may grade it yet."""
    return Calibration.objects.filter(copies=copy, status=Calibration.Status.TEACHER).exists()


def exam_page_get(*, exam: Exam) -> dict[str, Any]:
    """The barème (with its total), the reading of the subject in flight, the copies, and which
    uploads are split or wait for a split."""
    questions = list(exam.questions.all())
    reading = exam.proposals.filter(kind=Proposal.Kind.BAREME, status__in=Proposal.IN_FLIGHT).first()
    # Counted on the copies' own query (the steps read them): no query more per copy or per step.
    copies: list[PageCopy] = list(
        exam.copies.select_related("source")
        .annotate(
            page_total=Count("pages"),
            handed_back=Exists(StudentLink.objects.filter(copy=OuterRef("pk"))),
            # Set aside by a calibration round until the teacher has graded it: no start takes it.
            calibration_held=Exists(
                Calibration.objects.filter(copies=OuterRef("pk"), status=Calibration.Status.TEACHER)
            ),
        )
        .order_by("id")
    )
    per_source = Counter(copy.source_id for copy in copies if copy.source_id)
    unsplit_sources = list(exam.sources.filter(copies__isnull=True))
    bareme_reading = reading if reading is not None and reading.waiting else None
    return {
        "exam": exam,
        "questions": questions,
        "bareme_total": sum((q.max_points for q in questions), Decimal(0)),
        "bareme_locked": exam.status == Exam.Status.GRADING,
        "bareme_reading": bareme_reading,
        "copies": copies,
        "split_source_ids": {pk for pk, n in per_source.items() if n > 1},
        "unsplit_sources": unsplit_sources,
        "steps": exam_steps(
            exam=exam,
            questions=questions,
            copies=copies,
            reading=bareme_reading is not None,
            unsplit=len(unsplit_sources),
        ),
    }


class StepState(StrEnum):
    DONE = "done"
    TODO = "todo"
    RUNNING = "running"
    BLOCKED = "blocked"


STEP_STATE_LABELS = {
    StepState.DONE: gettext_lazy("fait"),
    StepState.TODO: gettext_lazy("à faire"),
    StepState.RUNNING: gettext_lazy("en cours"),
    StepState.BLOCKED: gettext_lazy("bloqué"),
}


@dataclass(frozen=True)
class Step:
    """One step of the exam page: its state and one sentence saying what is done, what to do,
    or why it cannot be done yet."""

    key: str  # the page's anchor: bareme, copies, grading, review, handback
    title: str
    state: StepState
    detail: str

    @property
    def state_label(self) -> str:
        return str(STEP_STATE_LABELS[self.state])

    @property
    def can_act(self) -> bool:
        """Whether the step's actions have something to act on (blocked ones show why instead)."""
        return self.state is not StepState.BLOCKED


@dataclass(frozen=True)
class ExamSteps:
    bareme: Step
    copies: Step
    grading: Step
    review: Step
    handback: Step
    # Once copies are graded the barème is settled: its editor folds away (still one click).
    bareme_folded: bool
    # Files a purge would delete (none on a new exam, none after a purge).
    student_files: bool

    def __iter__(self) -> Iterator[Step]:
        return iter((self.bareme, self.copies, self.grading, self.review, self.handback))


def exam_steps(
    *, exam: Exam, questions: Sequence[Question], copies: Sequence[PageCopy], reading: bool, unsplit: int
) -> ExamSteps:
    """The exam's steps from what the page already read (the copies with their page count and
    whether they were handed back): no query. The grading step's reasons follow the order in
    which services.job_start refuses, so a blocked step says what a start would say."""
    graded = [copy for copy in copies if copy.status == Copy.Status.DONE]
    startable = [copy for copy in copies if copy.status in Copy.STARTABLE and not copy.calibration_held]
    held = sum(1 for copy in copies if copy.status in Copy.STARTABLE and copy.calibration_held)
    preparing = sum(1 for copy in startable if not copy.page_total)
    return ExamSteps(
        bareme=_bareme_step(questions, reading),
        copies=_copies_step(copies, preparing, unsplit),
        grading=_grading_step(exam, questions, copies, graded, startable, preparing, held),
        review=_review_step(graded),
        handback=_handback_step(graded),
        bareme_folded=bool(graded),
        student_files=exam.files_purged_at is None and bool(copies or unsplit),
    )


def _bareme_step(questions: Sequence[Question], reading: bool) -> Step:
    title = _("Barème")
    if questions:
        total = floatformat(sum((q.max_points for q in questions), Decimal(0)), "-2")
        detail = ngettext(
            "%(count)s question, %(total)s points", "%(count)s questions, %(total)s points", len(questions)
        ) % {"count": len(questions), "total": total}
        return Step("bareme", title, StepState.DONE, detail)
    if reading:
        return Step("bareme", title, StepState.RUNNING, _("Le sujet est en cours de lecture."))
    return Step("bareme", title, StepState.TODO, _("Ajoutez au moins une question, ou lisez-les dans le sujet."))


def _copies_step(copies: Sequence[PageCopy], preparing: int, unsplit: int) -> Step:
    title = _("Copies")
    if unsplit:
        detail = ngettext(
            "%(count)s fichier attend son découpage en copies.",
            "%(count)s fichiers attendent leur découpage en copies.",
            unsplit,
        ) % {"count": unsplit}
        return Step("copies", title, StepState.TODO, detail)
    if not copies:
        return Step("copies", title, StepState.TODO, _("Déposez les copies des élèves."))
    count = ngettext("%(count)s copie", "%(count)s copies", len(copies)) % {"count": len(copies)}
    if preparing:
        detail = _("%(copies)s, dont %(count)s en préparation.") % {"copies": count, "count": preparing}
        return Step("copies", title, StepState.RUNNING, detail)
    return Step("copies", title, StepState.DONE, count)


def _grading_step(
    exam: Exam,
    questions: Sequence[Question],
    copies: Sequence[PageCopy],
    graded: Sequence[PageCopy],
    startable: Sequence[PageCopy],
    preparing: int,
    held: int = 0,
) -> Step:
    title = _("Correction")
    if exam.status == Exam.Status.GRADING:
        return Step("grading", title, StepState.RUNNING, _("Correction en cours : suivez la progression ci-dessous."))
    if exam.files_purged_at is not None:
        return Step("grading", title, StepState.BLOCKED, _("Les fichiers des élèves ont été supprimés."))
    if not questions and not copies:
        return Step("grading", title, StepState.BLOCKED, _("Il faut d'abord un barème et des copies."))
    if not questions:
        return Step("grading", title, StepState.BLOCKED, _("Il faut d'abord un barème (au moins une question)."))
    if not copies:
        return Step("grading", title, StepState.BLOCKED, _("Il faut d'abord des copies."))
    if not startable and held:
        return Step("grading", title, StepState.BLOCKED, _("Les copies prêtes attendent vos notes de calibration."))
    if not startable:
        if len(graded) == len(copies):
            detail = ngettext("La copie est corrigée.", "Les %(count)s copies sont corrigées.", len(graded)) % {
                "count": len(graded)
            }
            return Step("grading", title, StepState.DONE, detail)
        return Step("grading", title, StepState.RUNNING, _("Des copies sont en cours de correction."))
    if preparing == len(startable):
        return Step("grading", title, StepState.BLOCKED, _("Les pages des copies sont en préparation."))
    ready = len(startable) - preparing
    detail = ngettext("%(count)s copie prête à corriger.", "%(count)s copies prêtes à corriger.", ready) % {
        "count": ready
    }
    if graded:
        detail += " " + ngettext("%(count)s déjà corrigée.", "%(count)s déjà corrigées.", len(graded)) % {
            "count": len(graded)
        }
    if held:
        detail += " " + ngettext(
            "%(count)s mise de côté pour la calibration.", "%(count)s mises de côté pour la calibration.", held
        ) % {"count": held}
    return Step("grading", title, StepState.TODO, detail)


def _review_step(graded: Sequence[PageCopy]) -> Step:
    title = _("Revue")
    if not graded:
        return Step("review", title, StepState.BLOCKED, _("Aucune copie corrigée pour l'instant."))
    left = sum(1 for copy in graded if not copy.reviewed)
    if not left:
        detail = ngettext(
            "La copie corrigée est revue.", "Les %(count)s copies corrigées sont revues.", len(graded)
        ) % {"count": len(graded)}
        return Step("review", title, StepState.DONE, detail)
    detail = ngettext("%(left)s copie sur %(count)s à revoir.", "%(left)s copies sur %(count)s à revoir.", left) % {
        "left": left,
        "count": len(graded),
    }
    return Step("review", title, StepState.TODO, detail)


def _handback_step(graded: Sequence[PageCopy]) -> Step:
    title = _("Rendu")
    if not graded:
        return Step("handback", title, StepState.BLOCKED, _("Rien à rendre : aucune copie corrigée."))
    left = sum(1 for copy in graded if not copy.handed_back)
    if not left:
        detail = ngettext(
            "La copie corrigée a son lien élève.", "Les %(count)s copies corrigées ont leur lien élève.", len(graded)
        ) % {"count": len(graded)}
        return Step("handback", title, StepState.DONE, detail)
    detail = ngettext(
        "%(left)s copie sur %(count)s à rendre : liens élèves, PDF annotés, exports.",
        "%(left)s copies sur %(count)s à rendre : liens élèves, PDF annotés, exports.",
        left,
    ) % {"left": left, "count": len(graded)}
    return Step("handback", title, StepState.TODO, detail)


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
