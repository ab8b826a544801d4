"""Files out: uploaded PDFs and page images (owner-checked), exports, the purge of students' files."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import exports, selectors, services
from ..errors import FilesPurged
from .responses import file_response


@login_required
@require_GET
def source_file(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    if not source.file:
        raise Http404
    return file_response(source.file, content_type="application/pdf", filename=source.original_name)


@login_required
@require_GET
def page_image(request: AuthenticatedHttpRequest, pk: int, index: int) -> FileResponse:
    page = selectors.page_get(user=request.user, copy_pk=pk, index=index)
    if not page.image:
        raise Http404
    return file_response(page.image, content_type="image/jpeg")


@login_required
@require_GET
def exam_subject(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if not exam.subject_file:
        raise Http404
    return file_response(exam.subject_file, content_type="application/pdf", filename=_("sujet") + ".pdf")


# format → (builder, content type, file extension)
EXPORTS: dict[str, tuple[Callable[..., bytes], str, str]] = {
    "csv": (exports.exam_csv, "text/csv; charset=utf-8", "csv"),
    "xlsx": (exports.exam_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "json": (exports.exam_json_bytes, "application/json", "json"),
}


@login_required
@require_GET
def exam_export(request: AuthenticatedHttpRequest, pk: int, fmt: str) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    if fmt not in EXPORTS and fmt != "zip":
        raise Http404
    if fmt == "zip" and exam.files_purged_at is not None:
        messages.error(request, FilesPurged(exam.files_purged_at).message)
        return redirect("exam_review", pk=exam.pk)
    if services.export_in_background(exam=exam, fmt=fmt):
        # Built by a worker: the exports page asks for it, follows it and offers the file.
        return redirect(reverse("exam_exports", args=[exam.pk]) + f"?fmt={fmt}")
    build, content_type, extension = EXPORTS[fmt]
    try:
        content = build(exam=exam)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("exam_review", pk=exam.pk)
    response = HttpResponse(content, content_type=content_type)
    name = slugify(exam.title) or "correction"
    response["Content-Disposition"] = f'attachment; filename="{name}.{extension}"'
    return response


@login_required
@require_GET
def copy_annotated(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    try:
        content = exports.copy_annotated_pdf(copy=copy)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("copy_detail", pk=copy.pk)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{exports.copy_annotated_filename(copy)}"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def exam_files_purge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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


def _placeholder(width: int, height: int) -> bytes:
    """A grey page of this size, as SVG."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="#eeeef2"/></svg>'
    ).encode()


# Shown while a worker renders the thumbnails (the split page works without them).
THUMBNAIL_PLACEHOLDER = _placeholder(170, 240)


@login_required
@require_GET
def source_thumbnail(request: AuthenticatedHttpRequest, pk: int, index: int) -> HttpResponse:
    """One page of a class PDF, small, for the split screen: its owner only."""
    source = selectors.source_get(user=request.user, pk=pk)
    if not 1 <= index <= source.page_count:
        raise Http404
    jpeg = cache.get(services.thumbnail_key(source, index))
    if jpeg is None and source.file:
        services.source_thumbnails_enqueue(source=source)
    return _rendered_page(jpeg, placeholder=THUMBNAIL_PLACEHOLDER)


def _rendered_page(jpeg: bytes | None, *, placeholder: bytes) -> HttpResponse:
    """A page a worker rendered into the cache, kept an hour by the browser; until it is there,
    a grey placeholder the browser asks for again."""
    if jpeg is None:
        response = HttpResponse(placeholder, content_type="image/svg+xml")
        response["Cache-Control"] = "no-store"
        return response
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def exam_subject_pages(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The subject's pages beside a proposed barème (an HTMX partial the page polls until a
    worker has rendered them): its owner only."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    if not exam.subject_file:
        raise Http404
    context = {"exam": exam, "subject_pages": services.subject_pages_get(exam=exam)}
    return render(request, "grading/bareme_review.html#subject-pages", context)


# Stands in for a page the cache lost while a worker renders it again.
SUBJECT_PAGE_PLACEHOLDER = _placeholder(990, 1400)


@login_required
@require_GET
def exam_subject_page(request: AuthenticatedHttpRequest, pk: int, index: int) -> HttpResponse:
    """One page of the subject as an image, readable beside the barème: its owner only."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    if not exam.subject_file or not 1 <= index <= services.SUBJECT_PAGES_MAX:
        raise Http404
    shown = services.subject_pages_get(exam=exam)
    if shown is not None and index > len(shown.sizes):
        raise Http404
    return _rendered_page(services.subject_page_jpeg(exam=exam, index=index), placeholder=SUBJECT_PAGE_PLACEHOLDER)
