"""The dashboard and the exam page: create, edit, delete an exam; its page's context."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError
from usage.selectors import usage_summary

from .. import selectors, services
from ..forms import ExamForm, QuestionForm, SplitForm
from ..models import Copy, Exam
from ..validation import pdf_limits
from .calibration import calibration_panel_context

DASHBOARD_PAGE_SIZE = 20


@login_required
@require_GET
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Exam.Status.values:
        status = ""
    exams = selectors.exams_for_dashboard(user=request.user, status=status)
    page = Paginator(exams, DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(exam, selectors.exam_average(exam)) for exam in page.object_list]
    agreement = selectors.exams_agreement(exam_ids=[exam.pk for exam in page.object_list])
    for exam, _average in rows:
        exam.agreement = agreement.get(exam.pk)
    recent, recent_exams = selectors.recent_agreement(user=request.user)
    # Unfiltered, the paginator's count is all the teacher's exams: none means a first visit.
    has_any = bool(status) or page.paginator.count > 0
    return render(
        request,
        "grading/dashboard.html",
        {
            "page": page,
            "rows": rows,
            "status": status,
            "statuses": Exam.Status.choices,
            "has_any": has_any,
            "recent_agreement": recent,
            "recent_agreement_exams": recent_exams,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def exam_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ExamForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        exam = services.exam_create(owner=request.user, **form.cleaned_data)
        messages.success(request, _("Correction créée. Donnez maintenant le barème."))
        return redirect("exam_detail", pk=exam.pk)
    return render(request, "grading/exam_form.html", {"form": form, "exam": None})


@login_required
@require_POST
def demo_class(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Demo mode's « classe de démonstration »: an exam with its barème and eight copies."""
    if not settings.CORRIGO_DEMO_MODE:
        raise Http404
    try:
        exam = services.demo_class_create(owner=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("dashboard")
    count = exam.copies.count()
    messages.success(
        request,
        ngettext(
            "Classe de démonstration créée : un barème et %(count)s copie, bientôt prête à corriger.",
            "Classe de démonstration créée : un barème et %(count)s copies, bientôt prêtes à corriger.",
            count,
        )
        % {"count": count},
    )
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#grading")


@login_required
@require_http_methods(["GET", "POST"])
def exam_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    form = ExamForm(request.POST or None, instance=exam, user=request.user)
    if request.method == "POST" and form.is_valid():
        services.exam_update(exam=exam, **form.cleaned_data)
        messages.success(request, _("Correction enregistrée."))
        return redirect("exam_detail", pk=exam.pk)
    return render(request, "grading/exam_form.html", {"form": form, "exam": exam})


@login_required
@require_http_methods(["GET", "POST"])
def exam_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if request.method == "POST":
        title = exam.title
        services.exam_delete(exam=exam)
        messages.success(request, _("« %(title)s » a été supprimée.") % {"title": title})
        return redirect("dashboard")
    return render(request, "grading/exam_delete.html", {"exam": exam})


def exam_page_context(exam: Exam) -> dict[str, Any]:
    """The exam page without its grading panel (also the barème editor's HTMX partial)."""
    context = selectors.exam_page_get(exam=exam)
    return context | {
        "question_forms": [(q, QuestionForm(instance=q, prefix=f"q{q.pk}")) for q in context["questions"]],
        "new_question_form": QuestionForm(prefix="new"),
        "split_form": SplitForm(),
        "upload_limits": pdf_limits(),
        "roster": selectors.exam_roster(exam=exam),
        "startable": Copy.STARTABLE,
    }


def grading_panel_context(
    request: AuthenticatedHttpRequest, exam: Exam, *, selected: list[int] | None = None
) -> dict[str, Any]:
    """Estimate (of the teacher's selection, when there is one), remaining allowance in copies
    of this exam, how many copies a start can take, running job, the note on copies waiting for
    the allowance and the live progress fragment."""
    context: dict[str, Any] = {"estimate": None, "estimate_error": "", "selected": selected or []}
    summary = usage_summary(user=request.user)
    remaining = summary.remaining
    # A school's teacher is sent to their school's admin, never to the plans (accounts.School).
    context["school"], context["school_contact"] = summary.school, summary.school_contact
    try:
        estimate = services.job_estimate(exam=exam, copy_ids=selected or None)
    except ApplicationError as error:
        context["estimate_error"] = error.message
    else:
        context["estimate"] = estimate
        context["possible"] = estimate.fitting(remaining)
        context["later"] = estimate.copies - context["possible"]
        context["copies_left"] = estimate.copies_left(remaining)
    context["remaining"] = remaining
    context["pages_pending"] = selectors.exam_pages_pending(exam=exam)
    context["running_job"] = selectors.exam_running_job(exam=exam)
    # After a partial launch, one note says what runs, what waits and why, instead of the estimate's.
    context["deferred_note"] = services.waiting_note(exam=exam, summary=summary, running=context["running_job"])
    context["progress_html"] = selectors.progress_html(exam=exam, oob=False)
    context["agreement"] = selectors.exam_agreement(exam=exam)
    context |= calibration_panel_context(exam)
    return context


@login_required
@require_GET
def exam_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return render(request, "grading/exam_detail.html", exam_page_context(exam) | grading_panel_context(request, exam))
