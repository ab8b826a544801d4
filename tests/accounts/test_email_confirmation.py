"""The verification email and what confirming it does: the email names the site from SITE_URL
(not Django's example.com), and the teacher who signed up in this browser is signed in by the
confirmation, even hours later; another browser confirms the address and asks to log in."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace

import pytest
from allauth.account.internal import stagekit
from django.contrib.sites.models import Site
from django.core import mail
from django.core.management.sql import emit_post_migrate_signal
from django.test import Client
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

EMAIL = "nouvelle@lycee.example"


def _sign_up(client, password) -> str:
    response = client.post(reverse("account_signup"), {"email": EMAIL, "password1": password, "password2": password})
    assert response.status_code == 302
    match = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def _signed_in(client) -> bool:
    return "Mes corrections" in client.get(reverse("dashboard")).content.decode()


@pytest.mark.parametrize(("language", "greeting"), [("fr", "Bonjour"), ("en", "Hello")])
def test_the_verification_email_names_the_site_of_site_url(client, password, settings, language, greeting):
    settings.SITE_URL = "https://corrigo.lycee-hugo.example"
    # What `migrate` sends at every deployment once the tables exist.
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    client.post(
        reverse("account_signup"),
        {"email": EMAIL, "password1": password, "password2": password},
        HTTP_ACCEPT_LANGUAGE=language,
    )

    body = mail.outbox[-1].body
    assert "example.com" not in body
    assert "corrigo.lycee-hugo.example" in body
    assert greeting in body and "Corrigo" in body
    assert Site.objects.get_current().name == "Corrigo"


def test_confirming_hours_later_in_the_same_browser_signs_the_teacher_in(client, password, monkeypatch):
    confirm_url = _sign_up(client, password)
    assert not _signed_in(client)

    # Two hours pass before the teacher opens the email (allauth reads its clock here).
    later = time.time() + 2 * 3600
    monkeypatch.setattr(stagekit, "time", SimpleNamespace(time=lambda: later))
    response = client.post(confirm_url)

    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    assert _signed_in(client)
    assert User.objects.get(email=EMAIL).emailaddress_set.get().verified


def test_confirming_in_another_browser_verifies_the_address_and_asks_to_log_in(client, password):
    confirm_url = _sign_up(client, password)
    other_browser = Client()

    response = other_browser.post(confirm_url)

    assert response.status_code == 302
    assert response.url == reverse("account_login")
    assert not _signed_in(other_browser)
    assert User.objects.get(email=EMAIL).emailaddress_set.get().verified


def test_the_confirmation_page_gives_the_address_once(client, password):
    confirm_url = _sign_up(client, password)
    client.get(reverse("account_email_verification_sent"))  # where sign-up leads (its message shown)

    main = re.search(r"<main.*?</main>", client.get(confirm_url).content.decode(), re.S).group(0)

    assert main.count(EMAIL) == 1
    assert "est bien votre adresse e-mail" in main
