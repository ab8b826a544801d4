"""allauth's forms as a teacher reads them: each field's errors come after its own input (they
sat above the label, between the previous field and the next one's label), and the input is
marked invalid and tied to them."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _form(html: str) -> str:
    return re.search(r"<main.*?</main>", html, re.S).group(0)


def test_a_password_error_follows_the_password_input_not_the_email_field(client):
    response = client.post(
        reverse("account_signup"), {"email": "nouvelle@lycee.example", "password1": "123", "password2": "123"}
    )

    form = _form(response.content.decode())
    email_input = form.index('id="id_email"')
    label = form.index('for="id_password1"')
    field = form.index('id="id_password1"')
    error = form.index('id="id_password1_error"')
    assert email_input < label < field < error
    # Nothing but the email field's own markup sits between it and the password's label.
    assert "errorlist" not in form[email_input:label]
    password_input = re.search(r'<input[^>]*id="id_password1"[^>]*>', form).group(0)
    assert 'aria-invalid="true"' in password_input
    assert "id_password1_error" in password_input  # aria-describedby


def test_the_login_form_keeps_labels_and_the_forgotten_password_link(client):
    form = _form(client.get(reverse("account_login")).content.decode())

    assert 'for="id_login"' in form and 'for="id_password"' in form
    assert reverse("account_reset_password") in form
