"""The class summary of an exam: the questions the class failed most, the strengths and
difficulties drafted by the model (edited, restorable), and its one-page PDF."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import exports, selectors, services


@login_required
@require_GET
def exam_summary(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return render(request, "grading/exam_summary.html", {"exam": exam, "results": selectors.class_results(exam=exam)})


@login_required
@require_POST
def exam_summary_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Drafted by the model (metered), saved as the teacher wrote it, or restored to the draft."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    action = request.POST.get("action", "save")
    try:
        if action == "draft":
            services.exam_summary_draft(exam=exam, user=request.user)
            messages.success(request, _("Synthèse rédigée par le modèle : relisez-la."))
        elif action == "restore":
            services.exam_summary_restore(exam=exam, user=request.user)
            messages.success(request, _("Synthèse de l'IA rétablie."))
        else:
            services.exam_summary_edit(exam=exam, user=request.user, text=request.POST.get("text", ""))
            messages.success(request, _("Synthèse enregistrée."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(reverse("exam_summary", args=[exam.pk]) + "#summary-text")


@login_required
@require_GET
def exam_summary_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    response = HttpResponse(exports.class_summary_pdf(exam=exam), content_type="application/pdf")
    name = slugify(exam.title) or "correction"
    suffix = _("bilan")
    response["Content-Disposition"] = f'attachment; filename="{name}-{suffix}.pdf"'
    return response
