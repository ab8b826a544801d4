"""Live progress of an exam's grading: the fragment and its context.

The same partial renders the exam page (from the database) and every pushed event
(services.events, with hx-swap-oob), so a reload shows exactly what the live page showed.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.template.loader import render_to_string

from accounts.services import user_language_override
from usage.selectors import usage_exam_cost

from ..models import Copy, Exam, GradingJob

SETTLED = (Copy.Status.DONE, Copy.Status.FAILED, Copy.Status.CANCELLED, Copy.Status.QUOTA_REACHED)


def progress_context(*, exam: Exam) -> dict:
    """Context of templates/grading/progress.html for `exam` (its latest job and copies)."""
    job = exam.jobs.order_by("-started_at", "-pk").first()
    copies = list(exam.copies.order_by("pk"))
    in_job = [copy for copy in copies if job is not None and copy.job_id == job.pk]
    counts = Counter(copy.status for copy in in_job)
    total = len(in_job)
    finished = sum(counts[status] for status in SETTLED)
    cost = usage_exam_cost(exam_id=exam.pk)["total"].get("total_cost") or Decimal(0)
    return {
        "exam": exam,
        "job": job,
        "running": job is not None and job.status == GradingJob.Status.RUNNING,
        "copies": in_job or copies,
        "total": total,
        "finished": finished,
        "done": counts[Copy.Status.DONE],
        "failed": counts[Copy.Status.FAILED],
        "quota_reached": counts[Copy.Status.QUOTA_REACHED],
        "in_progress": counts[Copy.Status.GRADING] + counts[Copy.Status.VERIFYING],
        "cost": cost,
    }


def progress_html(*, exam: Exam, oob: bool = True) -> str:
    with user_language_override(exam.owner):
        return render_to_string("grading/progress.html#progress", {**progress_context(exam=exam), "oob": oob})
