"""Grade by question: one question across all copies, one grade for a group of answers read
the same, answers marked reviewed together."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import selectors, services
from ..errors import WorkflowError
from ..forms import points_parse
from ..selectors.review import ReviewRow
from .grid import grid_cells
from .responses import back_to
from .review import GRID_SORT_LABELS

SORT_LABELS = [
    ("points", gettext_lazy("Points croissants")),
    ("-points", gettext_lazy("Points décroissants")),
    *[(value, label) for value, label in GRID_SORT_LABELS if value == "confidence"],
]


@login_required
@require_GET
def question_review_first(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    first = exam.questions.first()
    if first is None:
        raise Http404
    return redirect("question_review", pk=exam.pk, question_pk=first.pk)


@login_required
@require_GET
def question_review(request: AuthenticatedHttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    exam = question.exam
    sort = request.GET.get("sort", "")
    sort = sort if sort in selectors.BY_QUESTION_SORTS else ""
    todo = request.GET.get("show") == "todo"
    review = selectors.question_review_get(exam=exam, question=question, sort=sort, todo=todo)
    # The points cells are the grid's (same keys, same script): one column, this question's.
    cells = [None] * (review.position - 1)
    rows = [ReviewRow(copy=row.copy, cells=[*cells, row.grade], total=None) for row in review.rows]
    html = grid_cells(rows, [review.position - 1], csrf_token=get_token(request), next_url=request.get_full_path())
    context = {
        "exam": exam,
        "review": review,
        "rows": list(zip(review.rows, html, strict=True)),
        "sort": sort,
        "sorts": SORT_LABELS,
        "todo": todo,
        "double": exam.mode == exam.Mode.DOUBLE,
    }
    return render(request, "grading/question_review.html", context)


def _fallback(pk: int, question_pk: int) -> str:
    return reverse("question_review", args=[pk, question_pk])


def _grade_ids(request: AuthenticatedHttpRequest) -> list[int]:
    return [int(value) for value in request.POST.getlist("grades") if value.isdigit()]


@login_required
@require_POST
def question_group_grade(request: AuthenticatedHttpRequest, pk: int, question_pk: int) -> HttpResponse:
    """One grade for the answers of a group (identical readings)."""
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    grades = selectors.question_grades(question=question, pks=_grade_ids(request))
    points = points_parse(request.POST.get("points", ""))
    try:
        if points is None:
            raise WorkflowError(_("Saisissez un nombre, par exemple 2,5."))
        changed = services.grades_group_set(
            grades=grades, user=request.user, points=points, step=question.exam.rounding_step
        )
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if not changed:
            messages.success(request, _("Ces réponses avaient déjà cette note."))
        else:
            messages.success(
                request,
                ngettext(
                    "Note du groupe enregistrée : %(count)s réponse modifiée.",
                    "Note du groupe enregistrée : %(count)s réponses modifiées.",
                    changed,
                )
                % {"count": changed},
            )
    return back_to(request, _fallback(pk, question_pk))


@login_required
@require_POST
def question_reviewed(request: AuthenticatedHttpRequest, pk: int, question_pk: int) -> HttpResponse:
    """The ticked answers (or all of the question's, `all`) marked reviewed, each audited."""
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    pks = None if request.POST.get("all") == "1" else _grade_ids(request)
    grades = selectors.question_grades(question=question, pks=pks)
    if not grades:
        messages.error(request, _("Cochez au moins une réponse."))
    else:
        marked = services.grades_reviewed_mark(grades=grades, user=request.user)
        if not marked:
            messages.success(request, _("Ces réponses étaient déjà marquées comme revues."))
        else:
            messages.success(
                request,
                ngettext("%(count)s réponse marquée comme revue.", "%(count)s réponses marquées comme revues.", marked)
                % {"count": marked},
            )
    return back_to(request, _fallback(pk, question_pk))
