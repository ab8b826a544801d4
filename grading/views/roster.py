"""An exam and its class list: a student's status (Abs, Disp., Non noté), a copy's student."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError
from rosters.models import Student

from .. import exports, selectors, services
from .responses import back_to


@login_required
@require_POST
def exam_student_status(request: AuthenticatedHttpRequest, pk: int, student_pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    # Only a student of this exam's class (of this teacher, since the exam is theirs).
    student = get_object_or_404(Student, pk=student_pk, school_class_id=exam.school_class_id)
    try:
        services.exam_student_mark(exam=exam, student=student, status=request.POST.get("status", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    return back_to(request, reverse("exam_review", args=[exam.pk]) + "#missing")


@login_required
@require_POST
def copy_student(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The teacher confirms or fixes which student of the class list a copy is (or none)."""
    copy = selectors.copy_get(user=request.user, pk=pk)
    raw = request.POST.get("student", "")
    student = None
    if raw:
        if not raw.isdigit():
            raise Http404
        student = get_object_or_404(Student, pk=int(raw), school_class_id=copy.exam.school_class_id)
    try:
        services.copy_student_set(copy=copy, student=student)
    except ApplicationError as error:
        messages.error(request, error.message)
    return back_to(request, reverse("exam_detail", args=[copy.exam_id]) + "#copies")


PRONOTE_FORMATS = {
    "csv": (exports.pronote_csv, "text/csv; charset=utf-8"),
    "xlsx": (exports.pronote_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
}


def pronote_scale(request: AuthenticatedHttpRequest) -> str:
    """The scale asked for (?scale=bareme for the barème's total), /20 by default."""
    scale = request.GET.get("scale", "20")
    return scale if scale in exports.PRONOTE_SCALES else "20"


@login_required
@require_GET
def exam_export_pronote(request: AuthenticatedHttpRequest, pk: int, fmt: str) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if fmt not in PRONOTE_FORMATS:
        raise Http404
    if services.export_in_background(exam=exam, fmt=fmt):
        query = urlencode({"fmt": f"pronote-{fmt}", "scale": pronote_scale(request)})
        return redirect(reverse("exam_exports", args=[exam.pk]) + f"?{query}")
    build, content_type = PRONOTE_FORMATS[fmt]
    response = HttpResponse(build(exam=exam, scale=pronote_scale(request)), content_type=content_type)
    name = slugify(exam.title) or "correction"
    response["Content-Disposition"] = f'attachment; filename="{name}-pronote.{fmt}"'
    return response
