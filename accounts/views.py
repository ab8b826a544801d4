from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language

from core.http import HtmxHttpRequest

from .forms import PreferencesForm
from .http import AuthenticatedHttpRequest
from .models import User
from .services import user_preferences_update


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PreferencesForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = user_preferences_update(user=request.user, data=form.cleaned_data)
        translation.activate(user.language)
        messages.success(request, _("Vos préférences sont enregistrées."))
        response = redirect("preferences")
        response.set_cookie("django_language", user.language, samesite="Lax")
        return response
    return render(request, "accounts/preferences.html", {"form": form})


@require_POST
def language_set(request: HtmxHttpRequest) -> HttpResponse:
    """The footer's language switch: Django's set_language, remembered on the profile."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(User.Language.choices):
        request.user.language = language
        request.user.save(update_fields=["language"])
    return set_language(request)
