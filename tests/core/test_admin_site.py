"""The admin through its views: Corrigo's name, an index grouped by section with dj-stripe in
one short section, and the user list showing each teacher's plan and this period's usage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from tests.factories import UserFactory
from usage.services import usage_plan_set, usage_record
from usage.tiers import TIER_LIMITS, Tier

pytestmark = pytest.mark.django_db

NAME = "Corrigo — administration"


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser(email="admin@corrigo.example", password="Admin-pass-2026!")
    client.force_login(admin)
    return client


def _spend(user, tokens: int, key: str) -> None:
    usage_record(
        user=user, phase="grading", model="gpt-4o-mini", prompt_tokens=tokens, completion_tokens=0, idempotency_key=key
    )


def test_the_admin_carries_corrigos_name(admin_client):
    response = admin_client.get(reverse("admin:index"))

    html = response.content.decode()
    assert f"<title>{NAME} | {NAME}</title>" in html
    assert f'<a href="{reverse("admin:index")}">{NAME}</a>' in html
    assert "Django" not in response.context["site_header"]


def test_the_index_has_one_accounts_section_and_stripe_in_one_short_section(admin_client):
    sections = admin_client.get(reverse("admin:index")).context["app_list"]

    labels = [section["app_label"] for section in sections]
    assert labels[:4] == ["accounts", "rosters", "grading", "usage"]
    assert labels.count("djstripe") == 1 and "account" not in labels and "auth" not in labels
    accounts = {model["object_name"] for model in sections[0]["models"]}
    assert {"User", "EmailAddress", "Group"} <= accounts
    stripe = next(section for section in sections if section["app_label"] == "djstripe")
    assert stripe["name"] == "Stripe (dj-stripe)"
    assert [model["object_name"] for model in stripe["models"]][:3] == ["Customer", "Subscription", "Invoice"]
    assert len(stripe["models"]) <= 8
    # Its last row, like its title, opens the full list of dj-stripe's models.
    everything = stripe["models"][-1]
    assert everything["admin_url"] == stripe["app_url"] == reverse("admin:app_list", args=["djstripe"])
    full = admin_client.get(everything["admin_url"]).context["app_list"]
    assert len(full[0]["models"]) > 30
    assert everything["name"] == f"Tous les objets Stripe ({len(full[0]['models'])})"


def test_the_user_list_shows_each_teachers_plan_and_usage_in_the_period(admin_client):
    free = UserFactory(email="gratuit@college.example")
    pro = UserFactory(email="pro@college.example")
    _spend(free, 12_345, "free-1")
    _spend(pro, 50_000, "pro-before")  # before the paid period: not in it
    now = timezone.now()
    usage_plan_set(user=pro, tier=Tier.PRO, period_start=now, period_end=now + timedelta(days=30))
    _spend(pro, 1_234, "pro-1")

    response = admin_client.get(reverse("admin:accounts_user_changelist"))

    rows = {
        user.email: (
            response.context["cl"].model_admin.plan_display(user),
            response.context["cl"].model_admin.usage_display(user),
        )
        for user in response.context["cl"].result_list
    }
    assert rows["gratuit@college.example"] == (
        "Gratuit",
        f"12\u202f345 / {TIER_LIMITS[Tier.FREE]:,}".replace(",", "\u202f"),
    )
    pro = f"1\u202f234 / {TIER_LIMITS[Tier.PRO]:,}".replace(",", "\u202f")
    assert rows["pro@college.example"] == ("Pro", pro)
    html = response.content.decode()
    assert "Jetons utilisés sur la période" in html and pro in html


def test_the_allowance_list_shows_the_period_usage_is_counted_over(admin_client):
    usage_plan_set(user=UserFactory(email="pro@college.example"), tier=Tier.PRO)  # no billing period yet
    usage_plan_set(user=UserFactory(email="gratuit@college.example"), tier=Tier.FREE)

    response = admin_client.get(reverse("admin:usage_allowance_changelist"))

    model_admin = response.context["cl"].model_admin
    periods = {
        allowance.user.email: model_admin.period_display(allowance) for allowance in response.context["cl"].result_list
    }
    start = timezone.localtime().replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    # A paid tier without a billing period counts by calendar month, as the checks do.
    assert periods["pro@college.example"] == f"{start:%d/%m/%Y} → {end:%d/%m/%Y}"
    assert periods["gratuit@college.example"] == "une seule fois, sans renouvellement"
    assert f"{start:%d/%m/%Y} → {end:%d/%m/%Y}" in response.content.decode()
