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


def test_the_admin_login_refuses_the_right_password_after_repeated_failures(client):
    admin = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    for _ in range(5):
        wrong = client.post(reverse("admin:login"), {"username": admin.email, "password": "mauvais"})
        assert wrong.status_code == 200
    right = client.post(reverse("admin:login"), {"username": admin.email, "password": "Admin-pass-2026!"})
    assert "_auth_user_id" not in client.session
    assert "Trop de tentatives" in right.content.decode()


def test_the_admin_login_accepts_the_right_password_after_fewer_failures_than_the_limit(client):
    admin = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    for _ in range(4):
        client.post(reverse("admin:login"), {"username": admin.email, "password": "mauvais"})
    right = client.post(reverse("admin:login"), {"username": admin.email, "password": "Admin-pass-2026!"})
    assert right.status_code == 302
    assert client.session["_auth_user_id"] == str(admin.pk)


def test_failures_on_the_site_login_count_against_the_admin_login(client):
    admin = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    for _ in range(5):
        client.post(reverse("account_login"), {"login": admin.email, "password": "mauvais"})
    right = client.post(reverse("admin:login"), {"username": admin.email, "password": "Admin-pass-2026!"})
    assert "_auth_user_id" not in client.session
    assert "Trop de tentatives" in right.content.decode()
