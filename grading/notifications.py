"""The email a teacher gets when a grading job is finished (if they asked for it)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

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
    with translation.override(user.language):
        subject, _, body = render_to_string("grading/email/job_finished.txt", context).partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", None, [user.email])
    return True
