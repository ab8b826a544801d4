"""What the teacher is told while and after a job runs: the live progress pushed to the exam
page, and the job-finished email.

An event costs the same whatever the size of the class: it sends the summary (counters counted
by the database) and the rows of the copies that changed, coalesced to at most one event per
CORRIGO_PROGRESS_WINDOW_S per exam (core.realtime.realtime_coalesce); the full block is rendered
only for a page that (re)connects (views.grading.exam_progress). The final event of a job is sent
at once, with the usage bar.

Both are courtesies: a Redis or mail server outage is logged, never fails grading; the exam
page reloaded shows the state from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse

from accounts.services import user_email_send, user_language_override
from core.realtime import realtime_coalesce, realtime_coalesced_take, realtime_group_name, realtime_send
from usage.selectors import usage_bar_html, usage_exam_cost, usage_summary

from ..models import Copy, Exam, GradingJob
from ..selectors.exams import exam_running_job
from ..selectors.progress import job_scope, progress_delta_html, progress_event_html
from .waiting import waiting_note

logger = logging.getLogger(__name__)


def progress_send(*, exam: Exam, copy_ids: Iterable[int] = (), final: bool = False) -> None:
    """Sends the summary and the rows of `copy_ids` (and, when the job ends, the usage bar) to
    the exam's group now."""
    html = progress_delta_html(exam=exam, copy_ids=copy_ids)
    if final:
        html += usage_bar_html(user=exam.owner, oob=True)
    _send(exam.pk, html, final=final)


def _send(exam_id: int, html: str, *, final: bool) -> None:
    realtime_send(realtime_group_name("exam", exam_id), html=html, data={"final": final})


def _coalesce_key(exam_id: int) -> str:
    return f"progress:exam-{exam_id}"


def _flush(exam_id: int):
    def flush(items: list[str]) -> None:
        html = progress_event_html(exam_id=exam_id, copy_ids=[int(item) for item in items])
        if html is not None:  # None: deleted meanwhile, nobody is watching it
            _send(exam_id, html, final=False)

    return flush


def progress_push(exam: Exam, *, copies: Iterable[int] = (), final: bool = False) -> None:
    """Tells the exam's page that `copies` (ids) changed, and the counters with them: at once
    when no event left for this exam in the last window, else with the window's closing.
    `final` (the job ended) is sent at once with everything pending. Best effort (see above)."""
    try:
        key = _coalesce_key(exam.pk)
        if final:
            pending = {int(item) for item in realtime_coalesced_take(key)}
            progress_send(exam=exam, copy_ids=pending | set(copies), final=True)
        else:
            realtime_coalesce(
                key,
                items=[str(pk) for pk in copies],
                window_s=settings.CORRIGO_PROGRESS_WINDOW_S,
                flush=_flush(exam.pk),
            )
    except Exception:
        logger.exception("progress event failed", extra={"exam": exam.pk})


def job_finished_notify(*, job: GradingJob) -> bool:
    """Sends the job-finished email in the teacher's language. False when they opted out, and
    for a copy graded again from its page (job.regrade): the teacher who sent one copy back
    watches it there, « votre correction est terminée » would tell them nothing."""
    user = job.created_by
    if not user.notify_job_finished or not user.email or job.regrade:
        return False
    exam = job.exam
    copies = job.copies.all()
    context = {
        "exam": exam,
        "done": copies.filter(status=Copy.Status.DONE).count(),
        "failed": copies.filter(status=Copy.Status.FAILED).count(),
        "quota_reached": copies.filter(status=Copy.Status.QUOTA_REACHED).count(),
        "cost": usage_exam_cost(exam_id=exam.pk, user=user)["total"]["total_cost"],
        "flagged": copies.filter(grades__disagreement=True).distinct().count(),
        "total": copies.count(),
        "url": settings.SITE_URL.rstrip("/") + reverse("exam_review", args=[exam.pk]),
    }
    summary = usage_summary(user=exam.owner)  # a school's teacher asks its admin, never for a plan
    context |= {"school": summary.school, "school_contact": summary.school_contact}
    # The copies a partial launch left waiting, as the exam page counts them (services.waiting).
    running = exam_running_job(exam=exam)  # another of its jobs: they cannot start before it ends
    with user_language_override(user):
        context["waiting"] = waiting_note(exam=exam, summary=summary, running=running)
        # A calibration round, or a job that left copies out: where the whole exam stands, the
        # exam page's own sentence (selectors.progress), else « 3 sur 3 » reads "all graded".
        context |= job_scope(job=job)
    try:
        user_email_send(user=user, template_name="grading/email/job_finished.txt", context=context)
    except Exception:
        logger.exception("job-finished email failed", extra={"job": job.pk})
        return False
    return True
