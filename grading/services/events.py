"""What the teacher is told while and after a job runs: the live progress fragment pushed to
the exam page, and the job-finished email.

Both are courtesies: a Redis or mail server outage is logged, never fails grading; the exam
page reloaded shows the state from the database.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.urls import reverse

from accounts.services import user_email_send
from core.realtime import realtime_group_name, realtime_send
from usage.selectors import usage_bar_html

from ..models import Copy, Exam, GradingJob
from ..selectors.progress import progress_html

logger = logging.getLogger(__name__)


def progress_send(*, exam: Exam, final: bool = False) -> None:
    """Pushes the progress fragment (and, when the job ends, the usage bar) to the exam's group."""
    html = progress_html(exam=exam)
    if final:
        html += usage_bar_html(user=exam.owner, oob=True)
    realtime_send(realtime_group_name("exam", exam.pk), html=html, data={"final": final})


def progress_push(exam: Exam, *, final: bool = False) -> None:
    """progress_send, best effort (see the module's docstring)."""
    try:
        progress_send(exam=exam, final=final)
    except Exception:
        logger.exception("progress event failed", extra={"exam": exam.pk})


def job_finished_notify(*, job: GradingJob) -> bool:
    """Sends the job-finished email in the teacher's language. False when they opted out."""
    user = job.created_by
    if not user.notify_job_finished or not user.email:
        return False
    exam = job.exam
    copies = job.copies.all()
    context = {
        "exam": exam,
        "done": copies.filter(status=Copy.Status.DONE).count(),
        "failed": copies.filter(status=Copy.Status.FAILED).count(),
        "quota_reached": copies.filter(status=Copy.Status.QUOTA_REACHED).count(),
        "flagged": copies.filter(grades__disagreement=True).distinct().count(),
        "total": copies.count(),
        "url": settings.SITE_URL.rstrip("/") + reverse("exam_review", args=[exam.pk]),
    }
    try:
        user_email_send(user=user, template_name="grading/email/job_finished.txt", context=context)
    except Exception:
        logger.exception("job-finished email failed", extra={"job": job.pk})
        return False
    return True
