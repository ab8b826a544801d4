from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    client.force_login(admin)
    return client


def test_admin_searches_users_by_email(admin_client):
    UserFactory(email="cherchee@college.example")
    UserFactory(email="autre@college.example")
    response = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "cherchee"})
    assert [user.email for user in response.context["cl"].result_list] == ["cherchee@college.example"]


def test_admin_filters_by_staff_and_active(admin_client):
    UserFactory(email="inactif@college.example", is_active=False)
    inactive = admin_client.get(reverse("admin:accounts_user_changelist"), {"is_active__exact": "0"})
    assert [user.email for user in inactive.context["cl"].result_list] == ["inactif@college.example"]
    staff = admin_client.get(reverse("admin:accounts_user_changelist"), {"is_staff__exact": "1"})
    assert [user.email for user in staff.context["cl"].result_list] == ["admin@corrigo.example"]


def test_admin_creates_a_user_with_an_email(admin_client):
    response = admin_client.post(
        reverse("admin:accounts_user_add"),
        {"email": "cree@college.example", "password1": "Un-bon-mot-2026", "password2": "Un-bon-mot-2026"},
    )
    assert response.status_code == 302
    assert User.objects.get(email="cree@college.example").check_password("Un-bon-mot-2026")


def test_a_teacher_cannot_open_the_admin(client, teacher):
    client.force_login(teacher)
    response = client.get(reverse("admin:accounts_user_changelist"))
    assert response.status_code == 302


def test_create_superuser_needs_no_username():
    user = User.objects.create_superuser(email="root@corrigo.example", password="x-Very-long-1")
    assert user.is_staff and user.is_superuser
    assert user.get_username() == "root@corrigo.example"
