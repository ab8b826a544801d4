from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_teacher_switches_to_english_and_off_job_emails(owner_client, teacher):
    response = owner_client.post(
        reverse("preferences"),
        {"first_name": "Camille", "last_name": "Durand", "language": "en", "notify_job_finished": ""},
    )
    assert response.status_code == 302
    teacher.refresh_from_db()
    assert teacher.language == "en"
    assert teacher.notify_job_finished is False
    assert "Preferences" in owner_client.get(reverse("preferences")).content.decode()


def test_preferences_need_a_login(client):
    response = client.get(reverse("preferences"))
    assert response.status_code == 302
    assert "/accounts/login/" in response.url
