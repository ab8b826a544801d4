"""The barème editor: questions one by one (HTMX), or read from the subject by a worker and
confirmed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError

from .. import selectors, services
from ..forms import BaremeProposalFormSet, BaremeRowFormSet, QuestionForm, QuestionMoveForm
from ..models import Exam, Proposal
from ..templatetags.grading_tags import points_unit
from .exams import exam_page_context, grading_panel_context

FormErrors = dict[str, list[str]]


def _bareme_response(
    request: AuthenticatedHttpRequest,
    exam: Exam,
    *,
    form_errors: FormErrors | None = None,
    pending: dict[str, Any] | None = None,
    refused: QuestionForm | None = None,
) -> HttpResponse:
    """The barème editor again: its partial for HTMX, else the exam page with the errors as
    messages. `pending`: a change that needs the teacher's choice for the grades given.
    `refused`: the form the teacher sent, shown again as typed (its row, or the new question's)."""
    if request.htmx or pending:
        context = exam_page_context(exam) | grading_panel_context(request, exam)
        context["bareme_errors"] = form_errors or {}
        context["bareme_pending"] = pending
        if refused is not None and refused.instance.pk is None:
            context["new_question_form"] = refused
        elif refused is not None:
            context["question_forms"] = [
                (question, refused if question.pk == refused.instance.pk else form)
                for question, form in context["question_forms"]
            ]
        if not request.htmx:
            return render(request, "grading/exam_detail.html", context)
        # The steps and the start button follow the barème (out of band): a first question unblocks a start.
        return render(request, "grading/exam_detail.html#bareme", context | {"oob": True})
    if form_errors:
        for errors in form_errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("exam_detail", pk=exam.pk)


def _form_errors(form: forms.BaseForm) -> FormErrors:
    """Each error with the name of its field (« Points : … »), as the list above the rows shows
    them: keyed by the id the refused input's aria-describedby points to (`__all__` stays)."""
    return {
        (field if field == "__all__" else f"{form[field].auto_id}_error"): [
            str(e)
            if field == "__all__"
            else _("%(label)s : %(text)s") % {"label": capfirst(form.fields[field].label), "text": e}
            for e in errors
        ]
        for field, errors in form.errors.items()
    }


def _pending(request: AuthenticatedHttpRequest, choice: services.GradesChoiceNeeded, detail: str) -> dict[str, Any]:
    """The change again, as hidden fields, with one button per choice the teacher may make."""
    fields = [(name, value) for name, value in request.POST.items() if name not in ("csrfmiddlewaretoken", "on_grades")]
    return {
        "action": request.path,
        "fields": fields,
        "detail": detail,
        "message": choice.message,
        "choices": [(c.value, c.label) for c in choice.choices],
    }


@login_required
@require_POST
def question_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam = selectors.exam_get(user=request.user, pk=pk)
    form = QuestionForm(request.POST, prefix="new")
    if not form.is_valid():
        return _bareme_response(request, exam, form_errors=_form_errors(form), refused=form)
    try:
        services.question_add(exam=exam, **form.cleaned_data, on_grades=request.POST.get("on_grades", ""))
    except services.GradesChoiceNeeded as choice:
        detail = _("Nouvelle question : %(label)s (/%(max)s).") % {
            "label": form.cleaned_data["label"],
            "max": formats.number_format(form.cleaned_data["max_points"].normalize()),
        }
        return _bareme_response(request, exam, pending=_pending(request, choice, detail))
    except ApplicationError as error:
        return _bareme_response(request, exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, exam)


@login_required
@require_POST
def question_update(request: AuthenticatedHttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    before = question.max_points  # the form's validation writes the posted value on the instance
    form = QuestionForm(request.POST, instance=question, prefix=f"q{question.pk}")
    if not form.is_valid():
        return _bareme_response(request, question.exam, form_errors=_form_errors(form), refused=form)
    try:
        services.question_update(
            question=question, **form.cleaned_data, on_grades=request.POST.get("on_grades", ""), user=request.user
        )
    except services.GradesChoiceNeeded as choice:
        # « point » agrees with the new maximum as each language agrees it (« 4 → 1 point »).
        detail = _("« %(label)s » : %(before)s → %(after)s.") % {
            "label": form.cleaned_data["label"],
            "before": formats.number_format(before.normalize()),
            "after": points_unit(form.cleaned_data["max_points"]),
        }
        return _bareme_response(request, question.exam, pending=_pending(request, choice, detail))
    except ApplicationError as error:
        return _bareme_response(request, question.exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, question.exam)


@login_required
@require_POST
def question_delete(request: AuthenticatedHttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    exam = question.exam
    try:
        services.question_delete(question=question, on_grades=request.POST.get("on_grades", ""))
    except services.GradesChoiceNeeded as choice:
        detail = _("Retirer « %(label)s » enlève ses notes des totaux.") % {"label": question.label}
        return _bareme_response(request, exam, pending=_pending(request, choice, detail))
    except ApplicationError as error:
        return _bareme_response(request, exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, exam)


@login_required
@require_POST
def question_move(request: AuthenticatedHttpRequest, pk: int, question_pk: int) -> HttpResponse:
    question = selectors.question_get(user=request.user, exam_pk=pk, pk=question_pk)
    form = QuestionMoveForm(request.POST)
    if form.is_valid():
        try:
            services.question_move(question=question, direction=form.cleaned_data["direction"])
        except ApplicationError as error:
            return _bareme_response(request, question.exam, form_errors={"__all__": [error.message]})
    return _bareme_response(request, question.exam)


@login_required
@require_POST
def bareme_extract(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Stores the subject / corrigé and has a worker read it: the wait page, then the proposal."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    try:
        proposal = services.bareme_proposal_start(exam=exam, upload=request.FILES.get("subject"))
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#bareme")
    return redirect("bareme_proposal", pk=exam.pk, proposal_pk=proposal.pk)


def _review_render(
    request: AuthenticatedHttpRequest, exam: Exam, formset: forms.BaseFormSet, total: Decimal
) -> HttpResponse:
    """The proposal's rows to correct, the subject's pages beside them (rendered by a worker)."""
    context = {"exam": exam, "formset": formset, "total": total}
    context["subject_pages"] = services.subject_pages_get(exam=exam)
    return render(request, "grading/bareme_review.html", context)


@login_required
@require_GET
def bareme_proposal(request: AuthenticatedHttpRequest, pk: int, proposal_pk: int) -> HttpResponse:
    """The detection model's proposal to correct once ready; until then a page that polls."""
    proposal = selectors.proposal_get(user=request.user, pk=proposal_pk)
    exam = proposal.exam
    if exam.pk != pk or proposal.kind != Proposal.Kind.BAREME:
        raise Http404
    if proposal.status == Proposal.Status.READY:
        rows = proposal.bareme_rows()
        formset = BaremeProposalFormSet(prefix="bareme", initial=rows)
        total = sum((row["max_points"] for row in rows), Decimal(0))
        return _review_render(request, exam, formset, total)
    if not proposal.waiting:  # failed, or its worker was lost
        reason = proposal.failure_text()
        messages.error(request, _("Le barème n'a pas pu être lu dans le sujet : %(reason)s") % {"reason": reason})
        return redirect(reverse("exam_detail", args=[exam.pk]) + "#bareme")
    return render(request, "grading/proposal_wait.html", {"exam": exam, "proposal": proposal})


@login_required
@require_POST
def bareme_confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
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
    rows = [f.cleaned_data for f in formset.forms if getattr(f, "cleaned_data", None)]
    total = sum((row["max_points"] for row in rows if row.get("max_points") and not row.get("DELETE")), Decimal(0))
    return _review_render(request, exam, formset, total)
