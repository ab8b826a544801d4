"""Grading an exam: start (tokens reserved), cancel, and the live progress fragment."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError
from usage.services import QuotaExceeded

from .. import selectors, services
from .exams import exam_page_context, grading_panel_context


def _selected(request: AuthenticatedHttpRequest) -> list[int]:
    """The copies the teacher ticked (`copy`), in any order; the exam's own are kept later."""
    return sorted({int(value) for value in request.POST.getlist("copy") if value.isdigit()})


@login_required
@require_POST
def exam_start(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Starts grading the exam's copies (or the ticked ones); `partial=1` (« Corriger les N
    copies possibles ») starts those the allowance takes and queues the others for later."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    selected = _selected(request)
    try:
        job = services.job_start(
            exam=exam, user=request.user, copy_ids=selected or None, partial=request.POST.get("partial") == "1"
        )
    except QuotaExceeded as error:
        # The grading panel says how many copies fit now and offers to grade those.
        context = exam_page_context(exam) | grading_panel_context(request, exam, selected=selected)
        return render(request, "grading/exam_detail.html", context | {"quota_error": error})
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if selectors.exam_deferred_count(exam=exam):
            # The page's note says how many wait, for which allowance, and what starts them.
            messages.success(
                request,
                ngettext(
                    "Correction lancée pour %(started)s copie : suivez la progression ci-dessous.",
                    "Correction lancée pour %(started)s copies : suivez la progression ci-dessous.",
                    job.total_copies,
                )
                % {"started": job.total_copies},
            )
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
