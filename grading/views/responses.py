"""Small response helpers shared by the views."""

from __future__ import annotations

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def wants_json(request: HttpRequest) -> bool:
    """The page's script posts with Accept: application/json and updates itself from the answer."""
    return "application/json" in request.headers.get("Accept", "")


def back_to(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to the form's `next` page when it is one of ours, else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(fallback)


def file_response(field_file: FieldFile, *, content_type: str, filename: str = "") -> FileResponse:
    """A stored file for its owner (the caller checked who asks), cached privately."""
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        # Deleted by a purge that has not cleared its reference yet (services.retention).
        raise Http404 from None
    response = FileResponse(handle, content_type=content_type, filename=filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response
