"""The review: the grid, one copy's page, grade and feedback edits and restores, a
double-corrected answer's pick, the copy's appréciation, reviewed, rename, re-grade."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import exports, selectors, services
from ..errors import WorkflowError
from ..forms import CopyRenameForm, points_parse
from ..models import Copy, ExamStudent, Grade
from .appreciations import appreciations_context
from .grid import feedback_stale_badge, grid_cells
from .responses import back_to, wants_json
from .roster import pronote_scale


@login_required
@require_GET
def exam_review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    review = selectors.review_get(exam=exam, for_grid=True)
    filters = _grid_filters(request, review)
    rows, columns = selectors.review_rows_select(review, **filters)
    cells = grid_cells(rows, columns, csrf_token=get_token(request), next_url=request.get_full_path())
    # The class list's students without a copy (absent unless the teacher says otherwise).
    missing = [line for line in selectors.exam_sheet(exam=exam, review=review) if line.row is None]
    scale = pronote_scale(request)
    context = {
        "exam": exam,
        "review": review,
        "grid_rows": list(zip(rows, cells, strict=True)),
        "grid_questions": [(column + 1, review.questions[column]) for column in columns],
        "filters": filters,
        "filtered": any(filters.values()),
        "copy_statuses": Copy.Status.choices,
        "sorts": GRID_SORT_LABELS,
        # The class list's students without a copy, under the whole grid only.
        "missing": [] if any(filters.values()) else missing,
        "statuses": ExamStudent.Status.choices,
        "pronote_scale": scale,
        "pronote_column": exports.pronote_column(exam=exam, scale=scale, review=review),
        "regrade_requests": list(selectors.regrade_requests_open(exam=exam)),
        # Filtered to one question, the histogram is that question's; else the totals'.
        "histogram": (
            selectors.question_histogram(review, filters["question"] - 1) if filters["question"] else review.histogram
        ),
        **appreciations_context(exam),
    }
    return render(request, "grading/exam_review.html", context)


def _grid_filters(request: AuthenticatedHttpRequest, review: selectors.Review) -> dict:
    """The grid's filters and sort from the query string; anything unknown is ignored."""
    question = request.GET.get("question", "")
    status = request.GET.get("status", "")
    sort = request.GET.get("sort", "")
    return {
        "show": "review" if request.GET.get("show") == "review" else "",
        "status": status if status in Copy.Status.values else "",
        "question": int(question) if question.isdigit() and 1 <= int(question) <= len(review.questions) else None,
        "sort": sort if sort in selectors.GRID_SORTS else "",
    }


GRID_SORT_LABELS = [
    ("name", gettext_lazy("Nom")),
    ("total", gettext_lazy("Total croissant")),
    ("-total", gettext_lazy("Total décroissant")),
    ("confidence", gettext_lazy("Confiance la plus faible d'abord")),
]


@login_required
@require_GET
def copy_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    context = selectors.copy_page_get(copy=copy) | {
        "rename_form": CopyRenameForm(instance=copy),
        "regrade_requests": selectors.copy_regrade_requests(copy=copy),
    }
    context |= _regrade_context(copy, [item["grade"] for item in context["items"] if item["grade"] is not None])
    return render(request, "grading/copy_detail.html", context)


def _regrade_context(copy: Copy, grades: list[Grade]) -> dict[str, object]:
    """« Corriger à nouveau » only where it can act (a settled copy whose files are kept and
    whose models are configured), with its estimate and how many of the teacher's edits the
    new grades would leave in place (or replace, when ticked)."""
    if copy.status not in Copy.REGRADABLE or copy.exam.files_purged_at is not None:
        return {"regrade_can": False}
    try:
        estimate = services.copy_estimate(copy=copy)
    except ApplicationError as error:
        return {"regrade_can": False, "regrade_error": error.message}
    edits = sum(grade.edited for grade in grades) + sum(grade.feedback_edited for grade in grades)
    edits += bool(copy.appreciation_ai) and copy.appreciation != copy.appreciation_ai
    return {"regrade_can": True, "regrade_estimate": estimate, "regrade_edits": edits}


def _number(value: Decimal) -> str:
    """Points as the grid writes them: French decimals, no trailing zeros."""
    return formats.number_format(value.normalize(), use_l10n=True)


def _grade_payload(grade: Grade) -> dict[str, object]:
    """What the grid's script shows after an edit: the points, the engine's, the new total."""
    total = selectors.copy_total(copy=grade.copy)
    stale = selectors.grade_feedback_stale(grade_id=grade.pk)
    return {
        "ok": True,
        "points": _number(grade.points),
        "ai_points": _number(grade.ai_points),
        "edited": grade.edited,
        "total": _number(total) if total is not None else "",
        # The copy page shows at once that its appréciation may no longer agree with the points.
        "appreciation_stale": selectors.copy_appreciation_stale(copy_id=grade.copy_id),
        # …and the engine's comment on this answer, « à revoir » (or no longer): the grid's badge
        # and the copy page's warning, rendered here as on a reload (review.js puts them in place).
        "grade": grade.pk,
        "feedback_stale_badge": feedback_stale_badge(grade) if stale else "",
        "feedback_stale_warning": render_to_string("grading/copy_detail.html#feedback-stale") if stale else "",
    }


def _grade_changed(
    request: AuthenticatedHttpRequest,
    grade: Grade,
    change: Callable[[], object],
    *,
    fallback: str,
    success: Callable[[], str] | None = None,
) -> HttpResponse:
    """Makes `change` to `grade`: the script gets the new figures (or the error) as JSON, a
    form goes back to its page with a message."""
    try:
        change()
    except ApplicationError as error:
        if wants_json(request):
            return JsonResponse({"ok": False, "error": error.message}, status=400)
        messages.error(request, error.message)
    else:
        if wants_json(request):
            return JsonResponse(_grade_payload(grade))
        if success is not None:
            messages.success(request, success())
    return back_to(request, fallback)


@login_required
@require_POST
def grade_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    grade = selectors.grade_get(user=request.user, pk=pk)
    points = points_parse(request.POST.get("points", ""))

    def change() -> None:
        if points is None:
            raise WorkflowError(_("Saisissez un nombre, par exemple 2,5."))
        services.grade_edit(grade=grade, user=request.user, points=points)

    return _grade_changed(request, grade, change, fallback=reverse("exam_review", args=[grade.copy.exam_id]))


@login_required
@require_POST
def grade_restore(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    grade = selectors.grade_get(user=request.user, pk=pk)
    services.grade_restore(grade=grade, user=request.user)
    if wants_json(request):
        return JsonResponse(_grade_payload(grade))
    messages.success(request, _("Note de l'IA rétablie."))
    return back_to(request, reverse("exam_review", args=[grade.copy.exam_id]))


# What the teacher's pick of a double-corrected answer is called in the message it gets.
PICK_LABELS = {
    "a": gettext_lazy("Note du correcteur A retenue : %(points)s."),
    "b": gettext_lazy("Note du correcteur B retenue : %(points)s."),
    "mean": gettext_lazy("Moyenne des deux correcteurs retenue : %(points)s."),
}


@login_required
@require_POST
def grade_pick(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A double-corrected answer: grader A's points, B's or their mean (keys a, b, m)."""
    grade = selectors.grade_get(user=request.user, pk=pk)
    choice = request.POST.get("choice", "")
    return _grade_changed(
        request,
        grade,
        lambda: services.grade_pick(grade=grade, user=request.user, choice=choice),
        fallback=reverse("copy_detail", args=[grade.copy_id]) + f"#question-{grade.question_id}",
        success=lambda: (
            PICK_LABELS[choice] % {"points": formats.number_format(grade.points.normalize(), use_l10n=True)}
        ),
    )


@login_required
@require_POST
def copy_rename(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    form = CopyRenameForm(request.POST, instance=copy)
    if form.is_valid():
        services.copy_rename(copy=copy, student_label=form.cleaned_data["student_label"])
        messages.success(request, _("Élève renommé."))
    else:
        messages.error(request, _("Indiquez un nom."))
    return back_to(request, reverse("copy_detail", args=[copy.pk]))


@login_required
@require_POST
def copy_reviewed(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    reviewed = request.POST.get("reviewed", "1") == "1"
    services.copy_reviewed_set(copy=copy, reviewed=reviewed)
    messages.success(request, _("Copie marquée comme revue.") if reviewed else _("Copie à revoir."))
    return back_to(request, reverse("copy_detail", args=[copy.pk]))


@login_required
@require_POST
def copy_regrade(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    copy = selectors.copy_get(user=request.user, pk=pk)
    overwrite = request.POST.get("overwrite_edits") == "1"
    try:
        services.copy_rerun(copy=copy, overwrite_edits=overwrite)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("La copie est renvoyée à la correction : vos modifications seront remplacées.")
            if overwrite
            else _("La copie est renvoyée à la correction : vos modifications seront gardées."),
        )
    return redirect("copy_detail", pk=copy.pk)


@login_required
@require_POST
def grade_feedback(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The teacher's feedback on one answer (« restore »: back to the engine's text; « keep »:
    the engine's text confirmed beside the points the teacher changed)."""
    grade = selectors.grade_get(user=request.user, pk=pk)
    try:
        if "keep" in request.POST:
            services.grade_feedback_keep(grade=grade, user=request.user)
            messages.success(request, _("Commentaire de l'IA gardé : il figure de nouveau dans les exports."))
        elif "restore" in request.POST:
            services.grade_feedback_restore(grade=grade, user=request.user)
            messages.success(request, _("Commentaire de l'IA rétabli."))
        else:
            services.grade_feedback_edit(grade=grade, user=request.user, feedback=request.POST.get("feedback", ""))
            messages.success(request, _("Commentaire enregistré."))
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect(reverse("copy_detail", args=[grade.copy_id]) + f"#question-{grade.question_id}")


@login_required
@require_POST
def copy_appreciation(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The copy's general appréciation: saved, restored to the model's draft, or (re)drafted.
    Drafted from the page's button (htmx), the answer is the block alone, with its messages: the
    page stays, and what the teacher typed meanwhile with it (static/js/appreciation.js)."""
    copy = selectors.copy_get(user=request.user, pk=pk)
    action = request.POST.get("action", "save")
    drafted = False
    try:
        if action == "draft":
            services.copy_appreciation_draft(copy=copy, user=request.user)
            drafted = True
            if copy.appreciation == copy.appreciation_ai:
                messages.success(request, _("Appréciation rédigée par le modèle : relisez-la."))
            else:  # the teacher's text, saved while the model wrote, is not written over
                messages.info(
                    request,
                    _(
                        "Votre appréciation, enregistrée pendant la rédaction, est gardée : "
                        "celle du modèle vous est proposée par « Rétablir le texte de l'IA »."
                    ),
                )
        elif action == "restore":
            services.copy_appreciation_restore(copy=copy)
            messages.success(request, _("Appréciation de l'IA rétablie."))
        else:
            services.copy_appreciation_edit(copy=copy, appreciation=request.POST.get("appreciation", ""))
            messages.success(request, _("Appréciation enregistrée."))
    except ApplicationError as error:
        messages.error(request, error.message)
    if request.htmx:
        context = selectors.copy_appreciation_block(copy=copy) | {"drafted": drafted}
        return render(request, "grading/copy_detail.html#appreciation-answer", context)
    return redirect(reverse("copy_detail", args=[copy.pk]) + "#appreciation")
