"""A school admin invites a teacher by email; the teacher signs up or logs in through allauth and
joins; an expired, used, forged or someone else's link is refused."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.core import mail, signing
from django.urls import reverse

from accounts.models import SchoolMembership
from schools.services import INVITATION_MAX_AGE
from tests.factories import UserFactory
from usage.selectors import usage_summary

pytestmark = pytest.mark.django_db

INVITED = "nouvelle@lycee-hugo.example"


def _invite(client, school, school_admin, email=INVITED) -> str:
    """The admin invites `email` from the school's page; the path of the emailed link."""
    client.force_login(school_admin)
    response = client.post(reverse("school_invite", args=[school.pk]), {"email": email})
    assert response.status_code == 302
    client.logout()
    message = mail.outbox[-1]
    assert message.to == [email]
    match = re.search(r"https?://[^/\s]+(/schools/join/[^/\s]+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_a_new_teacher_signs_up_through_the_link_and_joins(client, school, school_admin, password):
    link = _invite(client, school, school_admin)
    assert "Lycée Victor-Hugo" in mail.outbox[-1].subject

    page = client.get(link).content.decode()
    assert "Lycée Victor-Hugo" in page
    signup = reverse("account_signup")
    assert f'href="{signup}?next=' in page

    # allauth's signup, then the address confirmed from its email in the same browser.
    client.post(signup, {"email": INVITED, "password1": password, "password2": password})
    confirm = re.search(r"http://testserver(/accounts/confirm-email/[^/\s]+/)", mail.outbox[-1].body).group(1)
    assert client.post(confirm).status_code == 302
    assert not SchoolMembership.objects.exists()  # nothing joins without the teacher's yes

    response = client.post(link)
    assert response.status_code == 302
    membership = SchoolMembership.objects.get()
    assert (membership.school, membership.user.email) == (school, INVITED)
    assert usage_summary(user=membership.user).school == "Lycée Victor-Hugo"


def test_an_existing_teacher_logs_in_through_the_link_and_joins(client, school, school_admin, password):
    teacher = UserFactory(email=INVITED)
    link = _invite(client, school, school_admin)
    response = client.post(reverse("account_login") + f"?next={link}", {"login": INVITED, "password": password})
    assert response.status_code == 302 and response.url == link
    assert "Rejoindre Lycée Victor-Hugo" in client.get(link).content.decode()
    client.post(link)
    assert SchoolMembership.objects.get(left_at__isnull=True).user == teacher


def test_a_used_link_is_refused(client, school, school_admin):
    invited = UserFactory(email=INVITED)
    link = _invite(client, school, school_admin)
    client.force_login(invited)
    assert client.post(link).status_code == 302
    second = client.post(link)
    assert second.status_code == 410
    assert "déjà été utilisée" in second.content.decode()
    assert SchoolMembership.objects.count() == 1


def test_a_link_is_good_until_its_last_second_and_refused_after(client, school, school_admin, monkeypatch):
    signed_at = 1_800_000_000  # signing's clock, fixed so the boundary is exact to the second
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: signed_at))
    invited = UserFactory(email=INVITED)
    link = _invite(client, school, school_admin)
    client.force_login(invited)
    last_second = signed_at + INVITATION_MAX_AGE.total_seconds()
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: last_second))
    assert client.get(link).status_code == 200
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: last_second + 1))
    expired = client.get(link)
    assert expired.status_code == 410 and "a expiré" in expired.content.decode()
    assert client.post(link).status_code == 410
    assert not SchoolMembership.objects.exists()


def test_a_forged_link_is_refused(client, school, school_admin):
    link = _invite(client, school, school_admin)
    client.force_login(UserFactory(email=INVITED))
    forged = link[:-3] + ("A" if link[-3] != "A" else "B") + link[-2:]
    assert client.get(forged).status_code == 410


def test_the_link_is_for_the_invited_address_only(client, school, school_admin):
    link = _invite(client, school, school_admin)
    client.force_login(UserFactory(email="quelquun@ailleurs.example"))
    response = client.post(link)
    assert response.status_code == 409
    assert INVITED in response.content.decode()
    assert not SchoolMembership.objects.exists()


@pytest.mark.parametrize(
    ("language", "subject", "sentence"),
    [
        ("fr", "Lycée Victor-Hugo vous invite sur Corrigo", "Ce lien fonctionne une seule fois, pendant 14 jours."),
        ("en", "Lycée Victor-Hugo invites you to Corrigo", "This link works once, for 14 days."),
    ],
)
def test_the_invitation_email_speaks_the_inviters_language(client, school, school_admin, language, subject, sentence):
    school_admin.language = language
    school_admin.save()
    _invite(client, school, school_admin)
    assert subject in mail.outbox[-1].subject
    assert sentence in mail.outbox[-1].body
