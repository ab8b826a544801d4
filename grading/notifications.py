"""The email a teacher gets when a grading job is finished (if they asked for it)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from accounts.services import user_email_send

from .models import Copy, GradingJob


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
    user_email_send(user=user, template_name="grading/email/job_finished.txt", context=context)
    return True
