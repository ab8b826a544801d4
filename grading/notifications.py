"""The email a teacher gets when a grading job is finished (if they asked for it)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from .models import Copy, GradingJob


def job_finished_notify(*, job: GradingJob) -> bool:
    """Sends the job-finished email in the teacher's language. False when they opted out."""
    user = job.created_by
    if not getattr(user, "notify_job_finished", True) or not user.email:
        return False
    exam = job.exam
    try:
        path = reverse("exam_review", args=[exam.pk])
    except NoReverseMatch:  # the review page belongs to the workflow pages
        path = "/"
    copies = job.copies.all()
    context = {
        "user": user,
        "exam": exam,
        "job": job,
        "done": copies.filter(status=Copy.Status.DONE).count(),
        "failed": copies.filter(status=Copy.Status.FAILED).count(),
        "quota_reached": copies.filter(status=Copy.Status.QUOTA_REACHED).count(),
        "flagged": copies.filter(grades__disagreement=True).distinct().count(),
        "total": copies.count(),
        "url": settings.SITE_URL.rstrip("/") + path,
    }
    language = "en" if getattr(user, "language", "fr") == "en" else "fr"
    subject, _, body = render_to_string(f"grading/email/job_finished_{language}.txt", context).partition("\n")
    send_mail(subject.strip(), body.strip() + "\n", None, [user.email])
    return True
