"""Grading an exam: start (tokens reserved), cancel, and the live progress fragment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError
from usage.services import QuotaExceeded

from .. import selectors, services
from .exams import exam_page_context, grading_panel_context


@login_required
@require_POST
def exam_start(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    try:
        services.job_start(exam=exam, user=request.user)
    except QuotaExceeded as error:
        # The grading panel explains the missing tokens and offers a plan with more.
        context = exam_page_context(exam) | grading_panel_context(request, exam) | {"quota_error": error}
        return render(request, "grading/exam_detail.html", context)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Correction lancée : suivez la progression ci-dessous."))
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#grading")


@login_required
@require_POST
def exam_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    job = selectors.exam_running_job(exam=exam)
    if job is not None and services.job_cancel(job=job):
        messages.success(request, _("Correction annulée : les copies déjà corrigées gardent leurs notes."))
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#grading")


@login_required
@require_GET
def exam_progress(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return HttpResponse(selectors.progress_html(exam=exam, oob=False))
