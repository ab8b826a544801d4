from __future__ import annotations

from django import forms

from .models import User


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("first_name", "last_name", "language", "notify_job_finished")
