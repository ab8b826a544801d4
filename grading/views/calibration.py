"""The calibration round: offered on the exam page, the blind grading form, the AI round
(estimate first), the figures, the criteria adjusted, the round run again."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.http import AuthenticatedHttpRequest
from core.errors import ApplicationError
from usage.selectors import usage_summary
from usage.services import QuotaExceeded

from .. import selectors, services
from ..errors import WorkflowError
from ..forms import points_parse
from ..models import Calibration, Exam


def calibration_panel_context(exam: Exam) -> dict[str, Any]:
    """The exam page's offer (the copies a round may take) or the round in progress."""
    calibration = selectors.exam_calibration(exam=exam)
    candidates = list(selectors.calibration_candidates(exam=exam)) if calibration is None else []
    return {
        "calibration": calibration,
        "calibration_candidates": candidates,
        "calibration_default": min(services.CALIBRATION_DEFAULT, len(candidates)),
        "calibration_max": min(services.CALIBRATION_MAX, len(candidates)),
    }


def _calibration_or_offer(request: AuthenticatedHttpRequest, pk: int) -> tuple[Exam, Calibration | None]:
    exam = selectors.exam_get(user=request.user, pk=pk)
    return exam, selectors.exam_calibration(exam=exam)


def _offer_url(exam: Exam) -> str:
    return reverse("exam_detail", args=[exam.pk]) + "#calibration"


@login_required
@require_POST
def calibration_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The ticked copies (`copy`), or `count` copies spread over the class."""
    exam = selectors.exam_get(user=request.user, pk=pk)
    copy_ids = sorted({int(value) for value in request.POST.getlist("copy") if value.isdigit()})
    raw = request.POST.get("count", "").strip()
    try:
        if not copy_ids and raw and not raw.isdigit():
            raise WorkflowError(_("Saisissez un nombre de copies, par exemple 3."))
        count = int(raw) if raw.isdigit() else None
        services.calibration_create(exam=exam, count=count, copy_ids=copy_ids)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect(_offer_url(exam))
    return redirect("calibration_detail", pk=exam.pk)


def _form_rows(
    calibration: Calibration,
    exam: Exam,
    *,
    values: dict[tuple[int, int], str] | None = None,
    errors: dict[tuple[int, int], str] | None = None,
) -> list[dict[str, Any]]:
    values, errors = values or {}, errors or {}
    questions = list(exam.questions.all())
    rows = []
    for copy in selectors.calibration_copies(calibration=calibration):
        fields = []
        for question in questions:
            key = (copy.pk, question.pk)
            fields.append(
                {
                    "question": question,
                    "name": f"p-{copy.pk}-{question.pk}",
                    "value": values.get(key, ""),
                    "error": errors.get(key, ""),
                }
            )
        rows.append({"copy": copy, "fields": fields})
    return rows


def _estimate_context(request: AuthenticatedHttpRequest, calibration: Calibration) -> dict[str, Any]:
    context: dict[str, Any] = {"estimate": None, "estimate_error": ""}
    try:
        context["estimate"] = services.calibration_estimate(calibration=calibration)
    except ApplicationError as error:
        context["estimate_error"] = error.message
    context["remaining"] = usage_summary(user=request.user).remaining
    return context


def _bulk_context(exam: Exam) -> dict[str, Any]:
    try:
        return {"bulk_estimate": services.job_estimate(exam=exam)}
    except ApplicationError:
        return {"bulk_estimate": None}


def _page(request: AuthenticatedHttpRequest, exam: Exam, calibration: Calibration, **extra: Any) -> HttpResponse:
    context: dict[str, Any] = {"exam": exam, "calibration": calibration, "indicative_below": selectors.INDICATIVE_BELOW}
    context |= _estimate_context(request, calibration)
    if calibration.status == Calibration.Status.TEACHER:
        context["rows"] = extra.pop("rows", None) or _form_rows(calibration, exam)
    else:
        context["results"] = selectors.calibration_results(calibration=calibration)
        context |= _bulk_context(exam)
    return render(request, "grading/calibration.html", context | extra)


@login_required
@require_GET
def calibration_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Before the teacher's grades: the blind form (no AI grade exists, none is read). After:
    the figures, or the AI round's progress."""
    exam, calibration = _calibration_or_offer(request, pk)
    if calibration is None:
        return redirect(_offer_url(exam))
    return _page(request, exam, calibration)


@login_required
@require_POST
def calibration_submit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam, calibration = _calibration_or_offer(request, pk)
    if calibration is None:
        return redirect(_offer_url(exam))
    values: dict[tuple[int, int], str] = {}
    for name in request.POST:
        parts = name.split("-")
        if len(parts) == 3 and parts[0] == "p" and parts[1].isdigit() and parts[2].isdigit():
            values[(int(parts[1]), int(parts[2]))] = request.POST.get(name, "").strip()
    points = {key: points_parse(raw) if raw else None for key, raw in values.items()}
    try:
        services.calibration_submit(calibration=calibration, user=request.user, points=points)
    except services.CalibrationGradesInvalid as error:
        rows = _form_rows(calibration, exam, values=values, errors=error.errors)
        return _page(request, exam, calibration, rows=rows, form_error=error.message)
    except QuotaExceeded as error:
        rows = _form_rows(calibration, exam, values=values)
        return _page(request, exam, calibration, rows=rows, form_error=error.message)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Vos notes sont enregistrées : l'IA corrige maintenant les mêmes copies."))
    return redirect("calibration_detail", pk=exam.pk)


@login_required
@require_POST
def calibration_rerun(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam, calibration = _calibration_or_offer(request, pk)
    if calibration is None:
        return redirect(_offer_url(exam))
    try:
        services.calibration_rerun(calibration=calibration, user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("L'IA corrige à nouveau les copies de calibration."))
    return redirect("calibration_detail", pk=exam.pk)


@login_required
@require_POST
def calibration_criteria(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The barème's criteria adjusted from the figures (`criteria-<question id>`)."""
    exam, calibration = _calibration_or_offer(request, pk)
    if calibration is None:
        return redirect(_offer_url(exam))
    criteria: dict[int, str] = {}
    for name in request.POST:
        prefix, _sep, question = name.partition("-")
        if prefix == "criteria" and question.isdigit():
            criteria[int(question)] = request.POST.get(name, "")
    try:
        changed = services.calibration_criteria_update(calibration=calibration, criteria=criteria, user=request.user)
    except ApplicationError as error:
        messages.error(request, error.message)
    else:
        if changed:
            messages.success(request, _("Critères enregistrés : relancez le tour pour voir leur effet."))
    return redirect(reverse("calibration_detail", args=[exam.pk]) + "#criteria")


@login_required
@require_POST
def calibration_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    exam, calibration = _calibration_or_offer(request, pk)
    if calibration is not None:
        try:
            services.calibration_delete(calibration=calibration)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Calibration abandonnée : ses copies seront corrigées avec les autres."))
    return redirect(_offer_url(exam))
