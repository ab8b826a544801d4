"""Live progress of an exam's grading: the fragment, its context, and the delta an event sends.

The full block (`progress_html`) renders the exam page and answers a websocket (re)connection;
an event sends `progress_delta_html`: the summary (counters counted by the database) and the
rows of the copies that changed, so its cost does not depend on the size of the class. Both
render the same partials, so a reload shows exactly what the live page showed.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count
from django.template.loader import render_to_string

from accounts.services import user_language_override
from usage.selectors import usage_reservation_total_cost

from ..models import Copy, Exam, GradingJob

SETTLED = (Copy.Status.DONE, Copy.Status.FAILED, Copy.Status.CANCELLED, Copy.Status.QUOTA_REACHED)
ROW_FIELDS = ("status", "student_label", "failure_reason")


def _latest_job(exam: Exam) -> GradingJob | None:
    return exam.jobs.order_by("-started_at", "-pk").first()


def _summary(exam: Exam, job: GradingJob | None, counts: dict[str, int]) -> dict:
    return {
        "exam": exam,
        "job": job,
        "running": job is not None and job.status == GradingJob.Status.RUNNING,
        "total": sum(counts.values()),
        "finished": sum(counts.get(status, 0) for status in SETTLED),
        "done": counts.get(Copy.Status.DONE, 0),
        "failed": counts.get(Copy.Status.FAILED, 0),
        "quota_reached": counts.get(Copy.Status.QUOTA_REACHED, 0),
        # Left out of a partial launch: not in the job, waiting for the allowance.
        "deferred": exam.copies.filter(status=Copy.Status.DEFERRED).count(),
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
    job = _latest_job(exam)
    counts: dict[str, int] = {}
    rows: list[Copy] = []
    if job is not None:
        by_status = Copy.objects.filter(job=job).values("status").annotate(n=Count("pk")).order_by()
        counts = {row["status"]: row["n"] for row in by_status}
        ids = sorted(set(copy_ids))
        if ids:
            rows = list(Copy.objects.filter(job=job, pk__in=ids).order_by("pk").only(*ROW_FIELDS))
    return {**_summary(exam, job, counts), "copies": rows}


def progress_delta_html(*, exam: Exam, copy_ids: Iterable[int] = ()) -> str:
    """What an event sends: the summary and the changed copies' rows, each swapped out of band."""
    context = {**progress_delta_context(exam=exam, copy_ids=copy_ids), "delta": True}
    with user_language_override(exam.owner):
        return render_to_string("grading/progress.html#progress-delta", context)
