"""GET /api/usage/ and GET /api/exams/<id>/cost/: session or token, owner only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token

from usage.selectors import TIER_LIMITS, Tier, typical_copies_in
from usage.services import usage_plan_set, usage_record

pytestmark = pytest.mark.django_db


def test_usage_reports_the_period_figures(owner_client, teacher, spend):
    spend(teacher, 30_000, completion=1_000)
    body = owner_client.get("/api/usage/").json()
    assert body["tier"] == "free"
    limit = TIER_LIMITS[Tier.FREE]
    assert (body["tokens_used"], body["limit"], body["remaining"]) == (30_000, limit, limit - 30_000)
    assert body["has_monthly_reset"] is False
    assert body["period_start"] is None and body["period_end"] is None
    assert Decimal(body["cost"]) == Decimal("0.00495")  # 29 000 × 1.5e-7 + 1 000 × 6e-7
    assert isinstance(body["cost"], str)


def test_usage_of_a_paid_tier_has_a_period(owner_client, teacher):
    usage_plan_set(user=teacher, tier=Tier.MAX)
    body = owner_client.get("/api/usage/").json()
    assert body["limit"] == TIER_LIMITS[Tier.MAX] and body["has_monthly_reset"] is True
    assert body["period_start"] < body["period_end"]


def test_usage_with_a_token_shows_only_the_tokens_owner(client, teacher, other_teacher, spend):
    spend(teacher, 10_000)
    spend(other_teacher, 40_000)
    token = Token.objects.create(user=other_teacher)
    body = client.get("/api/usage/", HTTP_AUTHORIZATION=f"Token {token.key}").json()
    assert body["tokens_used"] == 40_000


def test_usage_needs_authentication(client):
    assert client.get("/api/usage/").status_code in (401, 403)


def test_an_exams_cost_breakdown_has_decimal_strings_per_phase(owner_client, teacher, exam_of):
    exam = exam_of(teacher)
    usage_record(
        user=teacher,
        exam=exam,
        phase="grading",
        model="gpt-4o-mini",
        prompt_tokens=12_000,
        completion_tokens=800,
        cached_read_tokens=9_000,
        idempotency_key="g",
    )
    body = owner_client.get(f"/api/exams/{exam.pk}/cost/").json()
    grading = body["phases"]["grading"]
    assert grading == {
        "prompt_cost": "0.00045",
        "completion_cost": "0.00048",
        "cached_cost": "0.000675",
        "total_cost": "0.001605",
        "savings": "0.000675",
        # The same in euros at the operator's rate (settings.USD_EUR_RATE, 0.86 by default).
        "prompt_cost_eur": "0.000387",
        "completion_cost_eur": "0.0004128",
        "cached_cost_eur": "0.0005805",
        "total_cost_eur": "0.0013803",
        "savings_eur": "0.0005805",
        "prompt_tokens": 12_000,
        "completion_tokens": 800,
        "cached_read_tokens": 9_000,
        "cache_write_tokens": 0,
        "total_tokens": 12_800,
    }
    assert body["total"]["total_cost"] == "0.001605"
    assert (body["currency"], body["usd_eur_rate"], body["total"]["total_cost_eur"]) == ("USD", "0.86", "0.0013803")


def test_the_euro_fields_follow_the_operators_rate(owner_client, teacher, exam_of, settings, spend):
    settings.USD_EUR_RATE = Decimal("0.5")
    exam = exam_of(teacher)
    spend(teacher, 10_000, exam=exam)  # gpt-4o-mini: 1.5e-7 $ a token
    cost = owner_client.get(f"/api/exams/{exam.pk}/cost/").json()["total"]
    assert (cost["total_cost"], cost["total_cost_eur"]) == ("0.0015", "0.00075")
    usage = owner_client.get("/api/usage/").json()
    assert (usage["cost"], usage["cost_eur"], usage["usd_eur_rate"]) == ("0.0015", "0.00075", "0.5")
    limit = TIER_LIMITS[Tier.FREE]
    assert usage["copies_limit"] == typical_copies_in(limit)
    assert usage["copies_remaining"] == typical_copies_in(limit - 10_000)


def test_an_exam_without_calls_yet_costs_nothing(owner_client, teacher, exam_of):
    body = owner_client.get(f"/api/exams/{exam_of(teacher).pk}/cost/").json()
    assert body["phases"] == {} and body["total"]["total_cost"] == "0"


def test_another_teachers_exam_cost_is_not_found(client, owner_client, teacher, other_teacher, exam_of, spend):
    exam = exam_of(teacher)
    spend(teacher, 1_000, exam=exam)
    assert owner_client.get(f"/api/exams/{exam.pk}/cost/").json()["total"]["total_tokens"] == 1_000
    client.force_login(other_teacher)
    assert client.get(f"/api/exams/{exam.pk}/cost/").status_code == 404
    token = Token.objects.create(user=other_teacher)
    client.logout()
    assert client.get(f"/api/exams/{exam.pk}/cost/", HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 404


def test_an_unknown_exams_cost_is_not_found(owner_client):
    assert owner_client.get("/api/exams/999999999/cost/").status_code == 404


def test_an_exams_cost_needs_authentication(client, teacher, exam_of, spend):
    exam = exam_of(teacher)
    spend(teacher, 1_000, exam=exam)
    assert client.get(f"/api/exams/{exam.pk}/cost/").status_code in (401, 403)


def test_the_exam_page_shows_the_cost_per_phase_once_there_is_one(owner_client, teacher, exam_of, spend):
    from django.urls import reverse

    exam = exam_of(teacher)
    page = owner_client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    assert 'id="exam-cost"' not in page
    spend(teacher, 10_000, completion=500, cached=6_000, exam=exam)
    spend(teacher, 2_000, exam=exam, phase="verification")
    page = owner_client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    section = page[page.index('id="exam-cost"') :]
    assert "Correction" in section and "Vérification" in section
    assert "12\xa0000" in section  # total tokens


def test_the_json_export_carries_the_cost_breakdown(teacher, exam_of, spend):
    from grading.exports import exam_json

    exam = exam_of(teacher)
    spend(teacher, 12_800, completion=800, cached=9_000, exam=exam)
    cost = exam_json(exam=exam)["cost"]
    assert cost["total"]["total_cost"] == "0.001605"
    assert cost["phases"]["grading"]["savings"] == "0.000675"
