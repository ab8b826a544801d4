"""Live progress of an exam's grading: the fragment, its context, and the delta an event sends.

The full block (`progress_html`) renders the exam page and answers a websocket (re)connection;
an event sends `progress_delta_html`: the summary (counters counted by the database) and the
rows of the copies that changed, so its cost does not depend on the size of the class. Both
render the same partials, so a reload shows exactly what the live page showed.

The counters are the latest job's; when that job did not take every copy of the exam (a
calibration round, a selection, a partial launch, one copy graded again), a sentence says where
the whole exam stands, else « 3 copies traitées sur 3 » read as "the exam is graded".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.utils.translation import ngettext

from accounts.services import user_language_override
from usage.selectors import usage_reservation_total_cost

from ..models import Calibration, Copy, Exam, GradingJob

SETTLED = (Copy.Status.DONE, Copy.Status.FAILED, Copy.Status.CANCELLED, Copy.Status.QUOTA_REACHED)
ROW_FIELDS = ("status", "student_label", "failure_reason")

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class CalibrationRound(TypedDict):
        calibration_round: bool

    LatestJob = WithAnnotations[GradingJob, CalibrationRound]


def _latest_first(jobs: QuerySet[GradingJob]) -> QuerySet[LatestJob]:
    """With `calibration_round`: it is the round's job (the last round's: an earlier one's is
    never the latest job)."""
    rounds = Calibration.objects.filter(job=OuterRef("pk"))
    return jobs.annotate(calibration_round=Exists(rounds)).order_by("-started_at", "-pk")


def _latest_job(exam: Exam) -> LatestJob | None:
    return _latest_first(exam.jobs.all()).first()


def _copy_counts(exam: Exam, job: GradingJob, *, running: bool) -> tuple[dict[str, int], dict[str, int]]:
    """The exam's copies by where they stand (each copy in one group only), and `job`'s copies
    by status, from one read of the exam's copies grouped (a job's copies are its exam's:
    job_start takes them from it). Grouped rather than one conditional Count per counter: the
    ORM compiles a dozen filtered Counts in more CPU than the worker saves by the query."""
    held = Exists(Calibration.objects.filter(copies=OuterRef("pk"), status=Calibration.Status.TEACHER))
    groups = exam.copies.annotate(held=held).values_list("held", "status", "job_id").annotate(n=Count("pk"))
    counts = dict.fromkeys(("total", "calibration", "done", "in_progress", "failed", "deferred"), 0)
    by_status: dict[str, int] = {}
    for is_held, status, job_id, n in groups.order_by():
        counts["total"] += n
        if job_id == job.pk:
            by_status[status] = by_status.get(status, 0) + n
        moving = status in (Copy.Status.GRADING, Copy.Status.VERIFYING)
        # Queued in a finished or cancelled job: waiting for a start, not in progress.
        moving |= running and status == Copy.Status.QUEUED and job_id == job.pk
        if is_held:
            counts["calibration"] += n
        elif moving:
            counts["in_progress"] += n
        elif status in (Copy.Status.DONE, Copy.Status.FAILED, Copy.Status.DEFERRED):
            counts[status] += n
    return counts, by_status


def _exam_counts(exam: Exam, job: GradingJob, *, running: bool) -> dict[str, int]:
    return _copy_counts(exam, job, running=running)[0]


def exam_copies_sentence(counts: dict[str, int]) -> str:
    """« Sur les 6 copies de l'examen : 3 corrigées, 3 restent à corriger. »"""
    todo = counts["total"] - sum(counts[key] for key in ("calibration", "done", "in_progress", "failed", "deferred"))
    words = {
        "done": ngettext("%(count)s corrigée", "%(count)s corrigées", counts["done"]),
        "in_progress": ngettext("%(count)s en cours", "%(count)s en cours", counts["in_progress"]),
        "failed": ngettext("%(count)s en échec", "%(count)s en échec", counts["failed"]),
        "calibration": ngettext(
            "%(count)s attend vos notes de calibration",
            "%(count)s attendent vos notes de calibration",
            counts["calibration"],
        ),
        "deferred": ngettext(
            "%(count)s en attente d'allocation", "%(count)s en attente d'allocation", counts["deferred"]
        ),
        "todo": ngettext("%(count)s reste à corriger", "%(count)s restent à corriger", todo),
    }
    amounts = {**counts, "todo": todo}
    parts = [text % {"count": amounts[key]} for key, text in words.items() if amounts[key]]
    return ngettext(
        "Sur %(count)s copie de l'examen : %(parts)s.",
        "Sur les %(count)s copies de l'examen : %(parts)s.",
        counts["total"],
    ) % {"count": counts["total"], "parts": ", ".join(parts)}


def _exam_sentence(exam: Exam, job: GradingJob, *, total: int, running: bool, counts: dict | None = None) -> str:
    """Where the whole exam stands, said only when `job` (of `total` copies) left copies of the
    exam out: a job of every copy says it all (""). Worded in the active language. `counts`:
    _exam_counts already read."""
    counts = counts if counts is not None else _exam_counts(exam, job, running=running)
    return exam_copies_sentence(counts) if counts["total"] > total else ""


def job_scope(*, job: GradingJob) -> dict:
    """What the job-finished email says beside `job`'s own counts, as the exam page says it:
    whether it was a calibration round, and the exam's sentence ("" for a job of every copy)."""
    return {
        "calibration_round": Calibration.objects.filter(job=job).exists(),
        "exam_sentence": _exam_sentence(
            job.exam, job, total=job.copies.count(), running=job.status == GradingJob.Status.RUNNING
        ),
    }


def _running(job: GradingJob | None) -> bool:
    return job is not None and job.status == GradingJob.Status.RUNNING


def _summary(exam: Exam, job: LatestJob | None, counts: dict[str, int], exam_counts: dict | None = None) -> dict:
    """`counts`: the job's copies by status; `exam_counts`: _exam_counts when already read."""
    running = _running(job)
    total = sum(counts.values())
    sentence = _exam_sentence(exam, job, total=total, running=running, counts=exam_counts) if job is not None else ""
    return {
        "exam": exam,
        "job": job,
        "running": running,
        "calibration_round": job is not None and job.calibration_round,
        "exam_sentence": sentence,
        "total": total,
        "finished": sum(counts.get(status, 0) for status in SETTLED),
        "done": counts.get(Copy.Status.DONE, 0),
        "failed": counts.get(Copy.Status.FAILED, 0),
        "quota_reached": counts.get(Copy.Status.QUOTA_REACHED, 0),
        "in_progress": counts.get(Copy.Status.GRADING, 0) + counts.get(Copy.Status.VERIFYING, 0),
        # This job's calls (its reservation's), not every job's the exam had.
        "cost": usage_reservation_total_cost(key=job.reservation_key) if job and job.reservation_key else 0,
    }


def progress_context(*, exam: Exam) -> dict:
    """Context of templates/grading/progress.html for `exam` (its latest job and copies)."""
    job = _latest_job(exam)
    copies = list(exam.copies.order_by("pk"))
    in_job = [copy for copy in copies if job is not None and copy.job_id == job.pk]
    counts: dict[str, int] = {}
    for copy in in_job:
        counts[copy.status] = counts.get(copy.status, 0) + 1
    return {**_summary(exam, job, counts), "copies": in_job or copies}


def progress_html(*, exam: Exam, oob: bool = True) -> str:
    with user_language_override(exam.owner):
        return render_to_string("grading/progress.html#progress", {**progress_context(exam=exam), "oob": oob})


def progress_delta_context(*, exam: Exam, copy_ids: Iterable[int]) -> dict:
    """The summary of the exam's latest job, counted by the database, and the rows of `copy_ids`
    that belong to it (a copy moved to another job or deleted meanwhile is left out)."""
    return _delta_context(exam, _latest_job(exam), copy_ids)


def _delta_context(exam: Exam, job: LatestJob | None, copy_ids: Iterable[int]) -> dict:
    counts: dict[str, int] = {}
    exam_counts: dict[str, int] | None = None
    rows: list[Copy] = []
    if job is not None:
        exam_counts, counts = _copy_counts(exam, job, running=_running(job))
        ids = sorted(set(copy_ids))
        if ids:
            rows = list(Copy.objects.filter(job=job, pk__in=ids).order_by("pk").only(*ROW_FIELDS))
    return {**_summary(exam, job, counts, exam_counts), "copies": rows}


def _delta_html(exam: Exam, job: LatestJob | None, copy_ids: Iterable[int]) -> str:
    with user_language_override(exam.owner):  # the exam's sentence is worded in the context
        context = {**_delta_context(exam, job, copy_ids), "delta": True}
        return render_to_string("grading/progress.html#progress-delta", context)


def progress_delta_html(*, exam: Exam, copy_ids: Iterable[int] = ()) -> str:
    """What an event sends: the summary and the changed copies' rows, each swapped out of band."""
    return _delta_html(exam, _latest_job(exam), copy_ids)


def progress_event_html(*, exam_id: int, copy_ids: Iterable[int] = ()) -> str | None:
    """progress_delta_html of the exam `exam_id` (None when it was deleted), read from its id:
    a window's event reads the exam, its owner and its latest job in one query."""
    job = _latest_first(GradingJob.objects.filter(exam_id=exam_id).select_related("exam__owner")).first()
    exam = job.exam if job is not None else Exam.objects.select_related("owner").filter(pk=exam_id).first()
    return None if exam is None else _delta_html(exam, job, copy_ids)
