from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Nouveau-mot-de-passe-42"


def _link_in_last_mail(pattern: str) -> str:
    body = mail.outbox[-1].body
    match = re.search(pattern, body)
    assert match, body
    return match.group(0).split("testserver", 1)[-1]


def test_signup_then_verification_link_then_login_lands_on_dashboard(client, password):
    response = client.post(
        reverse("account_signup"),
        {"email": "nouvelle@lycee.example", "password1": password, "password2": password},
    )
    assert response.status_code == 302
    user = User.objects.get(email="nouvelle@lycee.example")
    assert not user.emailaddress_set.get().verified
    # Not verified yet: the pages behind the login are closed.
    assert client.get(reverse("exam_create")).status_code == 302

    confirm_url = _link_in_last_mail(r"http://testserver/accounts/confirm-email/[^/\s]+/")
    assert client.get(confirm_url).status_code == 200
    client.post(confirm_url)
    assert user.emailaddress_set.get().verified

    client.post(reverse("account_logout"))
    response = client.post(reverse("account_login"), {"login": "nouvelle@lycee.example", "password": password})
    assert response.status_code == 302
    assert response.url == reverse("dashboard")
    page = client.get(reverse("dashboard"))
    assert page.status_code == 200
    assert "Mes corrections" in page.content.decode()

    client.post(reverse("account_logout"))
    assert client.get(reverse("exam_create")).status_code == 302


def test_an_unverified_address_cannot_log_in(client, password):
    from tests.factories import UserFactory

    UserFactory(email="pasverifie@college.example", verified=False)
    response = client.post(reverse("account_login"), {"login": "pasverifie@college.example", "password": password})
    # allauth sends the teacher to the "verify your address" page instead of logging in.
    assert response.status_code == 302
    assert "confirm-email" in response.url
    assert client.get(reverse("exam_create")).status_code == 302


def test_signup_refuses_a_weak_password(client):
    response = client.post(
        reverse("account_signup"), {"email": "faible@lycee.example", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(email="faible@lycee.example").exists()
    assert "trop court" in response.content.decode()


def test_password_reset_end_to_end(client, teacher, password):
    response = client.post(reverse("account_reset_password"), {"email": teacher.email})
    assert response.status_code == 302
    reset_url = _link_in_last_mail(r"http://testserver/accounts/password/reset/key/[^\s]+/")
    response = client.get(reset_url, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else reset_url
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    client.logout()
    refused = client.post(reverse("account_login"), {"login": teacher.email, "password": password})
    assert refused.status_code == 200
    accepted = client.post(reverse("account_login"), {"login": teacher.email, "password": NEW_PASSWORD})
    assert accepted.status_code == 302
    assert accepted.url == reverse("dashboard")


def test_login_is_rate_limited_after_repeated_failures(client, teacher, password):
    for _ in range(5):
        response = client.post(reverse("account_login"), {"login": teacher.email, "password": "mauvais"})
        assert response.status_code == 200
    # The limit now holds even for the right password.
    response = client.post(reverse("account_login"), {"login": teacher.email, "password": password})
    assert response.status_code in (200, 429)
    assert "_auth_user_id" not in client.session
    assert "Trop de tentatives" in response.content.decode()


def _fail_from(client, address: str, count: int) -> None:
    """`count` wrong passwords from one address, each on another account (under the per-account limit)."""
    for n in range(count):
        client.post(
            reverse("account_login"), {"login": f"inconnu{n}@exemple.fr", "password": "mauvais"}, REMOTE_ADDR=address
        )


@pytest.mark.parametrize(("failures", "allowed"), [(9, True), (10, False)])
def test_one_address_failing_on_many_accounts_is_limited_at_ten_a_minute(client, teacher, password, failures, allowed):
    _fail_from(client, "203.0.113.7", failures)
    response = client.post(
        reverse("account_login"), {"login": teacher.email, "password": password}, REMOTE_ADDR="203.0.113.7"
    )
    assert ("_auth_user_id" in client.session) is allowed
    assert ("Trop de tentatives" in response.content.decode()) is not allowed


def test_another_address_is_not_held_back_by_the_first(client, teacher, password):
    _fail_from(client, "203.0.113.7", 10)
    response = client.post(
        reverse("account_login"), {"login": teacher.email, "password": password}, REMOTE_ADDR="198.51.100.4"
    )
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_the_login_page_is_french_by_default_and_english_on_request(client):
    assert "Connexion" in client.get(reverse("account_login")).content.decode()
    english = client.get(reverse("account_login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Sign In" in english


def test_the_language_switch_sets_english(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert "Sign In" in client.get("/accounts/login/").content.decode()


@pytest.mark.parametrize(("language", "expected"), [("fr", "Trop de demandes"), ("en", "Too many requests")])
def test_one_address_past_thirty_logins_a_minute_gets_a_translated_page(client, teacher, password, language, expected):
    """The per-address limit (30 a minute) answers with the project's page, in the reader's language."""
    for _ in range(30):
        response = client.post(
            reverse("account_login"), {"login": teacher.email, "password": password}, REMOTE_ADDR="192.0.2.9"
        )
        assert response.status_code == 302
        client.logout()
    response = client.post(
        reverse("account_login"),
        {"login": teacher.email, "password": password},
        REMOTE_ADDR="192.0.2.9",
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert response.status_code == 429
    assert expected in response.content.decode()
    assert "_auth_user_id" not in client.session
