"""Handing the copies back: the teacher's links page (issue, print, email, revoke) and the
student's page behind a private link, without an account."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import exports, selectors, services
from ..forms import LinkDaysForm
from ..models import RegradeRequest, StudentLink, StudentLinkAccess


@login_required
@require_GET
def exam_links(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    rows = selectors.exam_links_overview(exam=exam)
    context = {
        "exam": exam,
        "rows": rows,
        "with_email": sum(1 for row in rows if row.email),
        "form": LinkDaysForm(),
    }
    return render(request, "grading/exam_links.html", context)


def _days(request: AuthenticatedHttpRequest) -> int | None:
    form = LinkDaysForm(request.POST)
    if form.is_valid():
        return form.cleaned_data["days"]
    messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
    return None


@login_required
@require_POST
def exam_links_print(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """New links for every graded copy, on a page to print and hand out: the only time they
    are shown (only their hash is kept)."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    days = _days(request)
    if days is None:
        return redirect("exam_links", pk=exam.pk)
    try:
        issued = services.exam_links_issue(exam=exam, user=request.user, days=days)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("exam_links", pk=exam.pk)
    response = render(request, "grading/exam_links_print.html", {"exam": exam, "issued": issued, "days": days})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def exam_links_send(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    days = _days(request)
    if days is None:
        return redirect("exam_links", pk=exam.pk)
    count = selectors.exam_link_recipients(exam=exam)
    if not count:
        messages.error(
            request, _("Aucun élève de la liste de classe n'a d'adresse e-mail : imprimez la liste des liens.")
        )
        return redirect("exam_links", pk=exam.pk)
    try:
        services.exam_links_send_start(exam=exam, user=request.user, days=days)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            ngettext("Envoi du lien à %(count)s élève en cours.", "Envoi des liens à %(count)s élèves en cours.", count)
            % {"count": count},
        )
    return redirect("exam_links", pk=exam.pk)


@login_required
@require_POST
def exam_links_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    count = services.exam_links_revoke(exam=exam)
    messages.success(
        request, ngettext("%(count)s lien révoqué.", "%(count)s liens révoqués.", count) % {"count": count}
    )
    return redirect("exam_links", pk=exam.pk)


@login_required
@require_POST
def copy_links_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    count = services.copy_links_revoke(copy=copy)
    messages.success(
        request, ngettext("%(count)s lien révoqué.", "%(count)s liens révoqués.", count) % {"count": count}
    )
    return redirect("exam_links", pk=copy.exam_id)


def _private(response: HttpResponse) -> HttpResponse:
    # The token is in the URL: never sent on to another site, kept by a cache or indexed.
    # (same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on the
    # page's own form, which the CSRF check refuses.)
    response["Referrer-Policy"] = "same-origin"
    response["Cache-Control"] = "no-store, private"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _link(request: HttpRequest, token: str, what: str) -> StudentLink:
    link = services.link_open(token=token, what=what, user_agent=request.headers.get("User-Agent", ""))
    if link is None:
        raise Http404
    return link


def _student_page(
    request: HttpRequest, link: StudentLink, token: str, *, error: str = "", status: int = 200
) -> HttpResponse:
    copy, exam = link.copy, link.copy.exam
    review = selectors.review_get(exam=exam)
    row = next(r for r in review.rows if r.copy.pk == copy.pk)
    regrade_requests = {r.question_id: r for r in selectors.copy_regrade_requests(copy=copy)}
    with translation.override(exam.language):
        notes = exports.copy_notes(copy, review, row, comment_chars=None)
        context = {
            "exam": exam,
            "copy": copy,
            "link": link,
            "items": [
                {"note": note, "question": question, "regrade": regrade_requests.get(question.pk)}
                for note, question in zip(notes, review.questions, strict=True)
            ],
            "summary": exports.copy_summary(copy, review, row),
            "token": token,
            "files_purged": exam.files_purged_at is not None,
            "error": error,
            "message_max": RegradeRequest.MESSAGE_MAX,
        }
        return _private(render(request, "grading/student_copy.html", context, status=status))


@require_GET
def student_copy(request: HttpRequest, token: str) -> HttpResponse:
    """The student's copy: points, the teacher's comments and appréciation, the annotated PDF,
    and per question a request for a second look (and the teacher's answer)."""
    return _student_page(request, _link(request, token, StudentLinkAccess.What.PAGE), token)


@require_POST
def student_regrade(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(request, token, StudentLinkAccess.What.REGRADE)
    question = request.POST.get("question", "")
    question_id = int(question) if question.isdigit() else 0  # no such question: refused below
    try:
        services.regrade_request_file(link=link, question_id=question_id, message=request.POST.get("message", ""))
    except ApplicationError as error:
        with translation.override(link.copy.exam.language):
            return _student_page(request, link, token, error=str(error.message), status=400)
    return redirect(reverse("student_copy", args=[token]) + "#regrades")


@login_required
@require_POST
def regrade_answer(request: AuthenticatedHttpRequest, pk: int, regrade_pk: int) -> HttpResponse:
    regrade = selectors.regrade_request_get(user=request.user, copy_pk=pk, pk=regrade_pk)
    try:
        services.regrade_request_answer(request=regrade, user=request.user, answer=request.POST.get("answer", ""))
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Réponse enregistrée : l'élève la lit sur son lien."))
    return redirect(reverse("copy_detail", args=[pk]) + "#regrades")


@require_GET
def student_copy_pdf(request: HttpRequest, token: str) -> HttpResponse:
    link = _link(request, token, StudentLinkAccess.What.PDF)
    try:
        # The token is in hand: the summary page's QR code leads back to this page.
        content = exports.copy_annotated_pdf(copy=link.copy, link=services.link_url(token))
    except ApplicationError:
        raise Http404 from None  # the files were purged: the page says so
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{exports.copy_annotated_filename(link.copy)}"'
    return _private(response)
