"""« Rédiger les appréciations manquantes » on the review page: started here, drafted by a
worker (services.appreciation_run), its progress polled by the page while it runs."""

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

from .. import selectors, services
from ..models import Exam


def appreciations_context(exam: Exam) -> dict[str, object]:
    """The review page's block: how many copies have none, and the latest pass."""
    return {
        "appreciations_missing": selectors.appreciations_missing(exam=exam).count(),
        "appreciation_run": selectors.appreciation_run_latest(exam=exam),
    }


@login_required
@require_GET
def exam_appreciations(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The block alone, polled every few seconds while a pass runs."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    return render(request, "grading/exam_review.html#appreciations", {"exam": exam, **appreciations_context(exam)})


@login_required
@require_POST
def exam_appreciations_draft(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    try:
        _run, started = services.exam_appreciations_start(exam=exam, user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if started:
            messages.success(request, _("Rédaction des appréciations manquantes lancée : suivez-la ci-dessous."))
        else:
            messages.info(request, _("La rédaction des appréciations manquantes est déjà en cours."))
    return redirect(reverse("exam_review", args=[exam.pk]) + "#appreciations")
