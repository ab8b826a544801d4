"""A school admin's pages (teachers, invitations, usage) and the invitation link a teacher opens.

Every page of a school loads it through school_get_for_admin (a non-admin gets a 404). These
pages show usage and costs from the ledger, never a teacher's exams, copies or grades.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from core.http import HtmxHttpRequest

from . import selectors, services
from .forms import InvitationForm


@login_required
@require_GET
def school_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    schools = list(selectors.schools_administered(user=request.user)[:2])
    if not schools:
        raise Http404
    if len(schools) == 1:
        return redirect("school_detail", pk=schools[0].pk)
    return render(request, "schools/school_list.html", {"schools": selectors.schools_administered(user=request.user)})


def _detail(request: AuthenticatedHttpRequest, pk: int, *, form: InvitationForm | None = None) -> HttpResponse:
    school = selectors.school_get_for_admin(user=request.user, pk=pk)
    usage = selectors.school_usage(school=school)
    teachers = [(m, usage.this_month.get(m.user_id, 0)) for m in selectors.school_teachers(school=school)]
    context = {
        "school": school,
        "usage": usage,
        "teachers": teachers,
        "invitations": selectors.school_invitations_pending(school=school),
        "form": form or InvitationForm(),
    }
    return render(request, "schools/school_detail.html", context, status=400 if form else 200)


@login_required
@require_GET
def school_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _detail(request, pk)


@login_required
@require_POST
def school_invite(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    school = selectors.school_get_for_admin(user=request.user, pk=pk)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        return _detail(request, pk, form=form)
    try:
        invitation = services.school_invitation_create(
            school=school, email=form.cleaned_data["email"], invited_by=request.user
        )
    except services.SchoolError as error:
        form.add_error("email", error.message)
        return _detail(request, pk, form=form)
    messages.success(request, _("Invitation envoyée à %(email)s.") % {"email": invitation.email})
    return redirect("school_detail", pk=school.pk)


@login_required
@require_POST
def school_teacher_remove(request: AuthenticatedHttpRequest, pk: int, user_id: int) -> HttpResponse:
    school = selectors.school_get_for_admin(user=request.user, pk=pk)
    teacher = get_object_or_404(User, pk=user_id)
    if not services.school_teacher_remove(school=school, user=teacher):
        raise Http404
    messages.success(
        request,
        _("%(email)s ne fait plus partie de l'établissement : son offre personnelle s'applique de nouveau.")
        % {"email": teacher.email},
    )
    return redirect("school_detail", pk=school.pk)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HtmxHttpRequest, invitation_token: str) -> HttpResponse:
    """Anyone may open the link; joining takes an account with the invited address (allauth's
    signup or login come back here through ?next=)."""
    try:
        invitation = services.school_invitation_get(token=invitation_token)
    except services.SchoolError as error:
        return render(request, "schools/invitation.html", {"error": error.message}, status=410)
    here = request.get_full_path()
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect(f"{reverse('account_login')}?{urlencode({'next': here})}")
        context = {
            "invitation": invitation,
            "login_url": f"{reverse('account_login')}?{urlencode({'next': here})}",
            "signup_url": f"{reverse('account_signup')}?{urlencode({'next': here})}",
        }
        return render(request, "schools/invitation.html", context)
    if request.method == "POST":
        try:
            services.school_invitation_accept(token=invitation_token, user=request.user)  # type: ignore[arg-type]
        except services.SchoolError as error:
            return render(request, "schools/invitation.html", {"error": error.message}, status=409)
        messages.success(
            request,
            _("Vous avez rejoint %(school)s : vos corrections sont offertes.") % {"school": invitation.school.name},
        )
        return redirect("dashboard")
    return render(request, "schools/invitation.html", {"invitation": invitation})
