"""Exports built by a worker: the exam's export page (ask, follow, download) and the download,
for the exam's owner only."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import exports, selectors, services
from ..models import ExportFile
from .responses import file_response

CONTENT_TYPES = {
    ExportFile.Format.CSV: "text/csv; charset=utf-8",
    ExportFile.Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ExportFile.Format.JSON: "application/json",
    ExportFile.Format.ZIP: "application/zip",
    ExportFile.Format.PRONOTE_CSV: "text/csv; charset=utf-8",
    ExportFile.Format.PRONOTE_XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@login_required
@require_GET
def exam_exports(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The exam's exports under way or ready, and the form that asks for one (`?fmt=` chosen)."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    fmt = request.GET.get("fmt", "")
    scale = request.GET.get("scale", "20")
    context = {
        "exam": exam,
        "rows": selectors.exam_exports(exam=exam),
        "stale_feedback": selectors.feedback_stale_count(exam=exam),
        "formats": ExportFile.Format.choices,
        "fmt": fmt if fmt in ExportFile.Format.values else ExportFile.Format.ZIP,
        "scale": scale if scale in exports.PRONOTE_SCALES else "20",
        "link_days": services.LINK_DAYS_DEFAULT,
        "link_days_max": services.LINK_DAYS_MAX,
    }
    return render(request, "grading/exam_exports.html", context)


@login_required
@require_POST
def exam_export_start(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    link_days = None
    if request.POST.get("qr"):
        days = request.POST.get("days", "")
        link_days = int(days) if days.isdigit() and len(days) < 6 else 0  # 0: refused with the reason
    try:
        export = services.export_start(
            exam=exam,
            user=request.user,
            fmt=request.POST.get("fmt", ""),
            scale=request.POST.get("scale", ""),
            link_days=link_days,
        )
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("exam_exports", pk=exam.pk)
    return redirect(reverse("exam_exports", args=[exam.pk]) + f"#export-{export.pk}")


@login_required
@require_GET
def export_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The export's line, polled by htmx until the file is ready (or the build failed)."""
    export = selectors.export_get(user=request.user, pk=pk)
    if not request.htmx:
        return redirect(reverse("exam_exports", args=[export.exam_id]) + f"#export-{export.pk}")
    return render(request, "grading/exam_exports.html#export", {"row": selectors.export_row(export)})


@login_required
@require_GET
def export_download(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    export = selectors.export_get(user=request.user, pk=pk)
    if export.status != ExportFile.Status.DONE or not export.file:
        raise Http404
    content_type = CONTENT_TYPES[ExportFile.Format(export.fmt)]
    return file_response(export.file, content_type=content_type, filename=services.export_filename(export))
