"""The teacher's pages. Views parse input, call services and selectors, render.

Every view that takes an exam, copy, grade or file id loads it through a selector scoped to
request.user, so another teacher gets a 404 (tests/grading/workflow/test_isolation.py walks
every URL pattern to prove it).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import selectors, services
from .forms import ExamForm, QuestionForm, QuestionMoveForm
from .models import Exam

DASHBOARD_PAGE_SIZE = 20


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in Exam.Status.values:
        status = ""
    exams = selectors.exams_for_dashboard(user=request.user, status=status)
    page = Paginator(exams, DASHBOARD_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(exam, selectors.exam_average(exam)) for exam in page.object_list]
    has_any = bool(rows) or status or Exam.objects.filter(owner=request.user).exists()
    return render(
        request,
        "grading/dashboard.html",
        {"page": page, "rows": rows, "status": status, "statuses": Exam.Status.choices, "has_any": has_any},
    )


@login_required
@require_http_methods(["GET", "POST"])
def exam_create(request: HttpRequest) -> HttpResponse:
    form = ExamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        exam = services.exam_create(owner=request.user, **form.cleaned_data)
        messages.success(request, _("Correction créée. Donnez maintenant le barème."))
        return redirect("exam_detail", pk=exam.pk)
    return render(request, "grading/exam_form.html", {"form": form, "exam": None})


@login_required
@require_http_methods(["GET", "POST"])
def exam_edit(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    form = ExamForm(request.POST or None, instance=exam)
    if request.method == "POST" and form.is_valid():
        services.exam_update(exam=exam, **form.cleaned_data)
        messages.success(request, _("Correction enregistrée."))
        return redirect("exam_detail", pk=exam.pk)
    return render(request, "grading/exam_form.html", {"form": form, "exam": exam})


@login_required
@require_http_methods(["GET", "POST"])
def exam_delete(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if request.method == "POST":
        title = exam.title
        services.exam_delete(exam=exam)
        messages.success(request, _("« %(title)s » a été supprimée.") % {"title": title})
        return redirect("dashboard")
    return render(request, "grading/exam_delete.html", {"exam": exam})


def _exam_context(exam: Exam) -> dict:
    questions = list(exam.questions.all())
    return {
        "exam": exam,
        "questions": questions,
        "bareme_total": sum((q.max_points for q in questions), 0),
        "question_forms": [(q, QuestionForm(instance=q, prefix=f"q{q.pk}")) for q in questions],
        "new_question_form": QuestionForm(prefix="new"),
        "bareme_locked": exam.status == Exam.Status.GRADING,
    }


@login_required
@require_GET
def exam_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return render(request, "grading/exam_detail.html", _exam_context(exam))


def _bareme_response(request: HttpRequest, exam: Exam, *, form_errors: dict | None = None) -> HttpResponse:
    if request.htmx:
        context = _exam_context(exam)
        context["bareme_errors"] = form_errors or {}
        return render(request, "grading/exam_detail.html#bareme", context)
    if form_errors:
        for errors in form_errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("exam_detail", pk=exam.pk)


def _form_errors(form) -> dict:
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


@login_required
@require_POST
def question_add(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    form = QuestionForm(request.POST, prefix="new")
    if not form.is_valid():
        return _bareme_response(request, exam, form_errors=_form_errors(form))
    try:
        services.question_add(exam=exam, **form.cleaned_data)
    except services.WorkflowError as error:
        return _bareme_response(request, exam, form_errors={"__all__": [str(error)]})
    return _bareme_response(request, exam)


@login_required
@require_POST
def question_update(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    form = QuestionForm(request.POST, instance=question, prefix=f"q{question.pk}")
    if not form.is_valid():
        return _bareme_response(request, question.exam, form_errors=_form_errors(form))
    try:
        services.question_update(question=question, **form.cleaned_data)
    except services.WorkflowError as error:
        return _bareme_response(request, question.exam, form_errors={"__all__": [str(error)]})
    return _bareme_response(request, question.exam)


@login_required
@require_POST
def question_delete(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    exam = question.exam
    try:
        services.question_delete(question=question)
    except services.WorkflowError as error:
        return _bareme_response(request, exam, form_errors={"__all__": [str(error)]})
    return _bareme_response(request, exam)


@login_required
@require_POST
def question_move(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    form = QuestionMoveForm(request.POST)
    if form.is_valid():
        try:
            services.question_move(question=question, direction=form.cleaned_data["direction"])
        except services.WorkflowError as error:
            return _bareme_response(request, question.exam, form_errors={"__all__": [str(error)]})
    return _bareme_response(request, question.exam)


@login_required
@require_GET
def exam_review(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return render(request, "grading/exam_review.html", {"exam": exam})


@login_required
@require_GET
def copy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    return render(request, "grading/copy_detail.html", {"copy": copy, "exam": copy.exam})
