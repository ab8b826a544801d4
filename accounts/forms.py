from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm

from .models import User


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "language", "notify_job_finished")


class AdminLoginForm(AdminAuthenticationForm):
    """The admin's login, counted by allauth's `login_failed` limit like the site's login.

    Django's admin form calls `authenticate()` directly, with no limit: a password could be
    guessed there at will. Going through allauth's adapter shares the site's counters (per IP
    and per address, in Redis), so failures on either page count against both.
    """

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is not None and password:
            self.user_cache = get_adapter(self.request).authenticate(self.request, email=email, password=password)
            if self.user_cache is None:
                raise self.get_invalid_login_error()
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
