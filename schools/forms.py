from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail de l'enseignant"), max_length=254)
