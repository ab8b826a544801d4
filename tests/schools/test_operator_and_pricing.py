"""With billing off the operator sets up a school in the admin; its teachers are offered no checkout."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import School, User
from tests.factories import UserFactory
from usage.selectors import usage_summary

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    operator = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    client.force_login(operator)
    return client


def test_the_operator_creates_a_school_with_its_pool_admin_and_teacher_in_the_admin(operator_client, settings):
    settings.BILLING_ENABLED = False
    head = UserFactory(email="direction@lycee-hugo.example")
    teacher = UserFactory(email="prof@lycee-hugo.example")
    inline = "memberships"
    response = operator_client.post(
        reverse("admin:accounts_school_add"),
        {
            "name": "Lycée Victor-Hugo",
            "city": "Besançon",
            "uai": "0250007X",
            "allowance_tokens": "2000000",
            "admins": [head.pk],
            f"{inline}-TOTAL_FORMS": "1",
            f"{inline}-INITIAL_FORMS": "0",
            f"{inline}-0-user": teacher.pk,
            f"{inline}-0-joined_at_0": timezone.localdate().isoformat(),
            f"{inline}-0-joined_at_1": "00:00:00",
            "invitations-TOTAL_FORMS": "0",
            "invitations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    school = School.objects.get()
    assert list(school.admins.all()) == [head]
    summary = usage_summary(user=teacher)
    assert (summary.school, summary.limit, summary.school_contact) == (
        "Lycée Victor-Hugo",
        2_000_000,
        "direction@lycee-hugo.example",
    )
    index = operator_client.get(reverse("admin:index")).content.decode()
    assert index.index("Établissements") > index.index("Utilisateurs")  # in the accounts section
    listing = operator_client.get(reverse("admin:accounts_school_changelist")).content.decode()
    assert "Lycée Victor-Hugo" in listing and "2000000" in listing.replace("\xa0", "").replace(" ", "")


@pytest.mark.parametrize(
    ("language", "offered", "contact"),
    [
        ("fr", "Votre allocation est offerte par Lycée Victor-Hugo.", "Contactez l'administrateur"),
        ("en", "Your allowance is offered by Lycée Victor-Hugo.", "Contact your school's administrator"),
    ],
)
def test_a_school_teacher_sees_who_pays_and_no_checkout_on_the_pricing_page(
    client, school_teacher, language, offered, contact, settings
):
    settings.BILLING_ENABLED = True
    school_teacher.language = language
    school_teacher.save()
    client.force_login(school_teacher)
    page = client.get(reverse("billing_pricing")).content.decode()
    assert offered in page and contact in page
    assert "mailto:direction@lycee-hugo.example" in page
    assert "/billing/checkout/" not in page
    assert "Voir les offres" not in page and "See the plans" not in page


def test_a_teacher_without_a_school_still_sees_the_checkout(owner_client, settings):
    settings.BILLING_ENABLED = True
    page = owner_client.get(reverse("billing_pricing")).content.decode()
    assert "/billing/checkout/pro/" in page
    assert "offerte par" not in page


def test_a_school_teacher_cannot_start_a_checkout(client, school_teacher, fake_stripe):
    client.force_login(school_teacher)
    response = client.post(reverse("billing_checkout", args=["pro"]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("billing_pricing")
    assert "offerte par Lycée Victor-Hugo" in response.content.decode()
    assert fake_stripe.calls("POST", "/v1/checkout/sessions") == []


def test_the_operator_raises_a_schools_pool_in_the_admin_and_its_teachers_get_it_at_once(
    operator_client, school, school_teacher, spend, settings
):
    settings.BILLING_ENABLED = False
    spend(school_teacher, 9_000)
    assert usage_summary(user=school_teacher).remaining == 1_000
    url = reverse("admin:accounts_school_change", args=[school.pk])
    page = operator_client.get(url).content.decode()
    assert 'name="allowance_tokens"' in page
    assert 'name="tier"' not in page and 'name="seats"' not in page  # the subscription's, read-only
    membership = school.memberships.get()
    response = operator_client.post(
        url,
        {
            "name": school.name,
            "city": school.city,
            "uai": "",
            "allowance_tokens": "25000",
            "admins": [a.pk for a in school.admins.all()],
            "tier": "max",  # ignored: read-only
            "seats": "99",
            "memberships-TOTAL_FORMS": "1",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": membership.pk,
            "memberships-0-school": school.pk,
            "memberships-0-user": school_teacher.pk,
            "memberships-0-joined_at_0": timezone.localtime(membership.joined_at).date().isoformat(),
            "memberships-0-joined_at_1": timezone.localtime(membership.joined_at).strftime("%H:%M:%S"),
            "invitations-TOTAL_FORMS": "0",
            "invitations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.context["adminform"].errors if response.context else response
    school.refresh_from_db()
    assert (school.allowance_tokens, school.tier, school.seats) == (25_000, "", 0)
    summary = usage_summary(user=school_teacher)
    assert (summary.limit, summary.remaining) == (25_000, 16_000)


def test_a_pool_of_zero_refuses_the_first_token_and_names_the_admin(school, school_teacher, settings):
    from usage.services import QuotaExceeded, usage_reserve

    settings.BILLING_ENABLED = False
    school.allowance_tokens = 0
    school.save(update_fields=["allowance_tokens"])
    with pytest.raises(QuotaExceeded) as refused:
        usage_reserve(user=school_teacher, key="job-zero", tokens=1)
    assert refused.value.missing == 1
    assert usage_summary(user=school_teacher).school_contact == "direction@lycee-hugo.example"
