"""Students' copies in: one PDF per student, a whole class and its split, removal."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import BaseForm
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import selectors, services
from ..forms import SplitForm, SplitRowFormSet
from ..models import Proposal, SourceFile
from .responses import wants_json


@login_required
@require_POST
def copies_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """One PDF per student; several at once. Each bad file is refused on its own, with its reason."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    uploads = request.FILES.getlist("files")
    created: list[dict[str, object]] = []
    errors: list[dict[str, str]] = []
    if not uploads:
        errors.append({"name": "", "message": _("Choisissez au moins un fichier PDF.")})
    for upload in uploads:
        try:
            copy = services.source_upload_copy(exam=exam, upload=upload)
        except ApplicationError as refused:
            errors.append({"name": upload.name or "", "message": refused.message})
        else:
            created.append({"id": copy.pk, "student": copy.student_label})
    for error in errors:
        named = _("%(label)s : %(text)s") % {"label": error["name"], "text": error["message"]}
        messages.error(request, named if error["name"] else error["message"])
    added = _batch_count(request, len(created))
    if added:
        messages.success(
            request, ngettext("%(count)s copie ajoutée.", "%(count)s copies ajoutées.", added) % {"count": added}
        )
    if wants_json(request):
        return JsonResponse({"created": created, "errors": errors}, status=200 if created or not errors else 400)
    return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")


def _batch_count(request: AuthenticatedHttpRequest, created: int) -> int:
    """How many copies the message should announce now. The upload script sends one file per
    request (its progress bar) with the same `batch` and `last=1` on the final one: the copies
    are counted across the batch, in the session, and announced once (« 8 copies ajoutées »)."""
    batch = request.POST.get("batch", "")[:64]
    if not batch:
        return created
    counted = request.session.get("copies_upload_batch") or {}
    total = (counted.get("count", 0) if counted.get("id") == batch else 0) + created
    if request.POST.get("last") == "1":
        request.session.pop("copies_upload_batch", None)
        return total
    request.session["copies_upload_batch"] = {"id": batch, "count": total}
    return 0


@login_required
@require_POST
def class_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The whole class in one PDF, then the split review."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    form = SplitForm(request.POST, request.FILES)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")
    try:
        source = services.source_upload_class(exam=exam, upload=form.cleaned_data["file"])
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#copies")
    url = reverse("source_split", args=[source.pk])
    pages = form.cleaned_data.get("pages_per_student")
    if pages:
        return redirect(f"{url}?pages={pages}")
    services.split_proposal_start(source=source)  # read by a worker while the page loads
    return redirect(url)


@login_required
@require_POST
def source_split_propose(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The automatic proposal again, after it failed."""
    source = selectors.source_get(user=request.user, pk=pk)
    services.split_proposal_start(source=source, again=True)
    return redirect("source_split", pk=source.pk)


def _split_initial(
    request: AuthenticatedHttpRequest, source: SourceFile
) -> tuple[list[services.SplitRow], str, Proposal | None]:
    """The proposal to review: fixed pages per student, or the detection model's proposal (read
    by a worker: no rows while it is in flight, the page then polls its status)."""
    pages = request.GET.get("pages", "")
    if pages.isdigit() and int(pages) > 0:
        return services.split_fixed(page_count=source.page_count, pages_per_student=int(pages)), "", None
    proposal = services.split_proposal_start(source=source)
    if proposal.waiting:
        return [], "", proposal
    rows, notice = services.split_proposal_rows(proposal=proposal, page_count=source.page_count)
    return rows, notice, proposal


@login_required
@require_http_methods(["GET", "POST"])
def source_split(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    source = selectors.source_get(user=request.user, pk=pk)
    exam = source.exam
    notice = ""
    proposal = None
    students = selectors.exam_roster(exam=exam)
    if request.method == "POST":
        formset = SplitRowFormSet(request.POST, prefix="rows", form_kwargs={"students": students})
        # "Aperçu": the moved boundaries and students are shown again with their pages, not applied.
        if formset.is_valid() and "preview" not in request.POST:
            rows = [
                services.SplitRow(
                    f.cleaned_data["student_label"],
                    f.cleaned_data["first_page"],
                    f.cleaned_data["last_page"],
                    f.cleaned_data.get("student"),
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
        existing = selectors.source_copies(source=source)
        if existing and "pages" not in request.GET:
            rows = [services.SplitRow(c.student_label, c.first_page, c.last_page, c.student_id) for c in existing]
        else:
            rows, notice, proposal = _split_initial(request, source)
            rows = services.split_rows_match(exam=exam, rows=rows)
        formset = SplitRowFormSet(
            prefix="rows",
            form_kwargs={"students": students},
            initial=[
                {
                    "student_label": r.student_label,
                    "first_page": r.first_page,
                    "last_page": r.last_page,
                    "student": r.student_id,
                }
                for r in rows
            ],
        )
    rows_pages = [(form, _row_pages(form, source.page_count)) for form in formset]
    return render(
        request,
        "grading/source_split.html",
        {
            "source": source,
            "exam": exam,
            "formset": formset,
            "notice": notice,
            "students": students,
            "rows": rows_pages,
            "proposal": proposal,
        },
    )


def _row_pages(form: BaseForm, page_count: int) -> list[int]:
    """The pages a split row covers as typed (bound) or proposed, for its thumbnails."""

    def number(name: str) -> int | None:
        value = form[name].value()
        return int(value) if str(value).strip().isdigit() else None

    first, last = number("first_page"), number("last_page")
    if first is None or last is None:
        return []
    return list(range(max(first, 1), min(last, page_count) + 1))


@login_required
@require_POST
def copy_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    exam_pk = copy.exam_id
    try:
        services.copy_delete(copy=copy)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Copie retirée."))
    return redirect(reverse("exam_detail", args=[exam_pk]) + "#copies")
