"""The teacher's pages. Views parse input, call services and selectors, render.

Every view that takes an exam, copy, grade or file id loads it through a selector scoped to
request.user, so another teacher gets a 404 (tests/grading/workflow/test_isolation.py walks
every URL pattern to prove it).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import ApplicationError
from usage.selectors import usage_summary
from usage.services import QuotaExceeded

from . import exports, selectors, services
from .errors import WorkflowError
from .forms import (
    BaremeRowFormSet,
    CopyRenameForm,
    ExamForm,
    QuestionForm,
    QuestionMoveForm,
    SplitForm,
    SplitRowFormSet,
    points_parse,
)
from .models import Exam
from .validation import PdfInvalid, pdf_limits

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
    context = selectors.exam_page_get(exam=exam)
    return context | {
        "question_forms": [(q, QuestionForm(instance=q, prefix=f"q{q.pk}")) for q in context["questions"]],
        "new_question_form": QuestionForm(prefix="new"),
        "split_form": SplitForm(),
        "upload_limits": pdf_limits(),
    }


def _grading_context(request: HttpRequest, exam: Exam) -> dict:
    """Estimate, remaining allowance, running job and the live progress fragment."""
    context: dict = {"estimate": None, "estimate_error": ""}
    try:
        context["estimate"] = services.job_estimate(exam=exam)
    except ApplicationError as error:
        context["estimate_error"] = error.message
    context["remaining"] = usage_summary(user=request.user).remaining
    context["pages_pending"] = selectors.exam_pages_pending(exam=exam)
    context["running_job"] = selectors.exam_running_job(exam=exam)
    context["progress_html"] = selectors.progress_html(exam=exam, oob=False)
    return context


@login_required
@require_GET
def exam_detail(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return render(request, "grading/exam_detail.html", _exam_context(exam) | _grading_context(request, exam))


@login_required
@require_GET
def exam_progress(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return HttpResponse(selectors.progress_html(exam=exam, oob=False))


@login_required
@require_POST
def exam_start(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    try:
        services.job_start(exam=exam, user=request.user)
    except QuotaExceeded as error:
        # The grading panel explains the missing tokens and offers a plan with more.
        context = _exam_context(exam) | _grading_context(request, exam) | {"quota_error": error}
        return render(request, "grading/exam_detail.html", context)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Correction lancée : suivez la progression ci-dessous."))
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#grading")


@login_required
@require_POST
def exam_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    job = selectors.exam_running_job(exam=exam)
    if job is not None and services.job_cancel(job=job):
        messages.success(request, _("Correction annulée : les copies déjà corrigées gardent leurs notes."))
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#grading")


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
    except ApplicationError as error:
        return _bareme_response(request, exam, form_errors={"__all__": [error.message]})
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
    except ApplicationError as error:
        return _bareme_response(request, question.exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, question.exam)


@login_required
@require_POST
def question_delete(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    exam = question.exam
    try:
        services.question_delete(question=question)
    except ApplicationError as error:
        return _bareme_response(request, exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, exam)


@login_required
@require_POST
def question_move(request: HttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    form = QuestionMoveForm(request.POST)
    if form.is_valid():
        try:
            services.question_move(question=question, direction=form.cleaned_data["direction"])
        except ApplicationError as error:
            return _bareme_response(request, question.exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, question.exam)


@login_required
@require_GET
def exam_review(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    review = selectors.review_get(exam=exam)
    return render(request, "grading/exam_review.html", {"exam": exam, "review": review})


@login_required
@require_GET
def copy_detail(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    context = selectors.copy_page_get(copy=copy) | {"rename_form": CopyRenameForm(instance=copy)}
    return render(request, "grading/copy_detail.html", context)


def _grade_payload(grade) -> dict:
    total = selectors.copy_total(copy=grade.copy)
    return {
        "ok": True,
        "points": formats.number_format(grade.points.normalize(), use_l10n=True),
        "ai_points": formats.number_format(grade.ai_points.normalize(), use_l10n=True),
        "edited": grade.edited,
        "total": formats.number_format(total.normalize(), use_l10n=True) if total is not None else "",
    }


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


@login_required
@require_POST
def grade_update(request: HttpRequest, pk: int) -> HttpResponse:
    grade = selectors.grade_get(user=request.user, pk=pk)
    points = points_parse(request.POST.get("points", ""))
    try:
        if points is None:
            raise WorkflowError(_("Saisissez un nombre, par exemple 2,5."))
        services.grade_edit(grade=grade, user=request.user, points=points)
    except ApplicationError as error:
        if _wants_json(request):
            return JsonResponse({"ok": False, "error": error.message}, status=400)
        messages.error(request, error.message)
    else:
        if _wants_json(request):
            return JsonResponse(_grade_payload(grade))
    return _back(request, reverse("exam_review", args=[grade.copy.exam_id]))


@login_required
@require_POST
def grade_restore(request: HttpRequest, pk: int) -> HttpResponse:
    grade = selectors.grade_get(user=request.user, pk=pk)
    services.grade_restore(grade=grade, user=request.user)
    if _wants_json(request):
        return JsonResponse(_grade_payload(grade))
    messages.success(request, _("Note de l'IA rétablie."))
    return _back(request, reverse("exam_review", args=[grade.copy.exam_id]))


@login_required
@require_POST
def copy_rename(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    form = CopyRenameForm(request.POST, instance=copy)
    if form.is_valid():
        services.copy_rename(copy=copy, student_label=form.cleaned_data["student_label"])
        messages.success(request, _("Élève renommé."))
    else:
        messages.error(request, _("Indiquez un nom."))
    return _back(request, reverse("copy_detail", args=[copy.pk]))


@login_required
@require_POST
def copy_reviewed(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    reviewed = request.POST.get("reviewed", "1") == "1"
    services.copy_reviewed_set(copy=copy, reviewed=reviewed)
    messages.success(request, _("Copie marquée comme revue.") if reviewed else _("Copie à revoir."))
    return _back(request, reverse("copy_detail", args=[copy.pk]))


@login_required
@require_POST
def copy_regrade(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    try:
        services.copy_rerun(copy=copy)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("La copie est renvoyée à la correction."))
    return redirect("copy_detail", pk=copy.pk)


# --- Uploads and files ---------------------------------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def copies_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """One PDF per student; several at once. Each bad file is refused on its own, with its reason."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    uploads = request.FILES.getlist("files")
    created, errors = [], []
    if not uploads:
        errors.append({"name": "", "message": _("Choisissez au moins un fichier PDF.")})
    for upload in uploads:
        try:
            copy = services.source_upload_copy(exam=exam, upload=upload)
        except (PdfInvalid, ApplicationError) as error:  # PdfInvalid: until it derives from ApplicationError
            errors.append({"name": upload.name, "message": error.message})
        else:
            created.append({"id": copy.pk, "student": copy.student_label})
    for error in errors:
        label = f"{error['name']} : " if error["name"] else ""
        messages.error(request, label + error["message"])
    if created:
        messages.success(
            request,
            ngettext("%(count)s copie ajoutée.", "%(count)s copies ajoutées.", len(created)) % {"count": len(created)},
        )
    if _wants_json(request):
        return JsonResponse({"created": created, "errors": errors}, status=200 if created or not errors else 400)
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")


@login_required
@require_POST
def class_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole class in one PDF, then the split review."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    form = SplitForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")
    try:
        source = services.source_upload_class(exam=exam, upload=form.cleaned_data["file"])
    except (PdfInvalid, ApplicationError) as error:  # PdfInvalid: until it derives from ApplicationError
        messages.error(request, error.message)
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")
    url = reverse("source_split", args=[source.pk])
    pages = form.cleaned_data.get("pages_per_student")
    return redirect(f"{url}?pages={pages}" if pages else url)


def _split_initial(request: HttpRequest, source) -> tuple[list[services.SplitRow], str]:
    """The proposal to review: fixed pages per student, or the detection model's proposal."""
    pages = request.GET.get("pages", "")
    if pages.isdigit() and int(pages) > 0:
        return services.split_fixed(page_count=source.page_count, pages_per_student=int(pages)), ""
    rows, notice = services.split_propose_for(source=source, user=request.user)
    return rows, notice


@login_required
@require_http_methods(["GET", "POST"])
def source_split(request: HttpRequest, pk: int) -> HttpResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    exam = source.exam
    notice = ""
    if request.method == "POST":
        formset = SplitRowFormSet(request.POST, prefix="rows")
        if formset.is_valid():
            rows = [
                services.SplitRow(
                    f.cleaned_data["student_label"], f.cleaned_data["first_page"], f.cleaned_data["last_page"]
                )
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            try:
                copies = services.split_apply(source=source, rows=rows)
            except ApplicationError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    ngettext("%(count)s copie créée.", "%(count)s copies créées.", len(copies))
                    % {"count": len(copies)},
                )
                return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")
    else:
        existing = list(source.copies.order_by("first_page"))
        if existing and "pages" not in request.GET:
            rows = [services.SplitRow(c.student_label, c.first_page, c.last_page) for c in existing]
        else:
            rows, notice = _split_initial(request, source)
        formset = SplitRowFormSet(
            prefix="rows",
            initial=[
                {"student_label": r.student_label, "first_page": r.first_page, "last_page": r.last_page} for r in rows
            ],
        )
    return render(
        request,
        "grading/source_split.html",
        {"source": source, "exam": exam, "formset": formset, "notice": notice},
    )


@login_required
@require_POST
def copy_delete(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    exam_pk = copy.exam_id
    try:
        services.copy_delete(copy=copy)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Copie retirée."))
    return redirect(reverse("exam_detail", args=[exam_pk]) + "#copies")


def _file_response(field_file, *, content_type: str, filename: str | None = None) -> FileResponse:
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        # Deleted by a purge that has not cleared its reference yet (grading.retention).
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type, filename=filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def source_file(request: HttpRequest, pk: int) -> HttpResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    if not source.file:
        raise Http404
    return _file_response(source.file, content_type="application/pdf", filename=source.original_name)


@login_required
@require_GET
def page_image(request: HttpRequest, pk: int, index: int) -> HttpResponse:
    page = selectors.page_get(user=request.user, copy_pk=pk, index=index)
    if not page.image:
        raise Http404
    return _file_response(page.image, content_type="image/jpeg")


# --- Exports -------------------------------------------------------------------------------

EXPORTS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "json": ("application/json", "json"),
    "zip": ("application/zip", "zip"),
}


@login_required
@require_GET
def exam_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if fmt not in EXPORTS:
        raise Http404
    builders = {
        "csv": exports.exam_csv,
        "xlsx": exports.exam_xlsx,
        "json": exports.exam_json_bytes,
        "zip": exports.exam_annotated_zip,
    }
    content_type, extension = EXPORTS[fmt]
    try:
        content = builders[fmt](exam=exam)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("exam_review", pk=exam.pk)
    response = HttpResponse(content, content_type=content_type)
    name = slugify(exam.title) or "correction"
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


@login_required
@require_GET
def copy_annotated(request: HttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    try:
        content = exports.copy_annotated_pdf(copy=copy)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("copy_detail", pk=copy.pk)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{exports.copy_annotated_filename(copy)}"'
    return response


# --- Retention -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def exam_files_purge(request: HttpRequest, pk: int) -> HttpResponse:
    """Deletes the students' files of an exam (confirmation page, then POST); grades stay."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    if request.method == "POST":
        try:
            result = services.exam_files_purge(exam=exam, reason="teacher")
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            if result.complete:
                messages.success(
                    request,
                    _("Les fichiers des élèves ont été supprimés. Les notes et leurs exports restent disponibles."),
                )
            else:
                messages.error(
                    request,
                    ngettext(
                        "%(count)s fichier n'a pas pu être supprimé : réessayez dans quelques minutes.",
                        "%(count)s fichiers n'ont pas pu être supprimés : réessayez dans quelques minutes.",
                        len(result.failed),
                    )
                    % {"count": len(result.failed)},
                )
        return redirect("exam_detail", pk=exam.pk)
    return render(
        request,
        "grading/exam_files_purge.html",
        {"exam": exam, "retention_days": services.retention_days()},
    )


# --- Barème from a subject / corrigé -------------------------------------------------------


@login_required
@require_POST
def bareme_extract(request: HttpRequest, pk: int) -> HttpResponse:
    """Stores the subject / corrigé, asks the detection model, shows its proposal to correct."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    upload = request.FILES.get("subject")
    try:
        if upload is not None:
            services.exam_subject_store(exam=exam, upload=upload)
        elif not exam.subject_file:
            raise WorkflowError(_("Choisissez le PDF du sujet ou du corrigé."))
        rows = services.bareme_propose(exam=exam, user=request.user)
    except (PdfInvalid, ApplicationError) as error:  # PdfInvalid: until it derives from ApplicationError
        messages.error(request, error.message)
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#bareme")
    formset = BaremeRowFormSet(prefix="bareme", initial=rows)
    return render(request, "grading/bareme_review.html", {"exam": exam, "formset": formset})


@login_required
@require_POST
def bareme_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    formset = BaremeRowFormSet(request.POST, prefix="bareme")
    if formset.is_valid():
        rows = [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            services.bareme_replace(exam=exam, rows=rows)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Barème enregistré."))
            return redirect(reverse("exam_detail", args=[exam.pk]) + "#bareme")
    return render(request, "grading/bareme_review.html", {"exam": exam, "formset": formset})


@login_required
@require_GET
def exam_subject(request: HttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if not exam.subject_file:
        raise Http404
    return _file_response(exam.subject_file, content_type="application/pdf", filename="sujet.pdf")
