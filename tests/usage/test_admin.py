"""The operators' side: allowances, prices, the read-only ledger, its CSV and the report."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from usage.models import UsageRecord
from usage.selectors import TIER_LIMITS, Tier, price_card, usage_summary
from usage.services import usage_plan_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(email="ops@corrigo.example", is_staff=True, is_superuser=True))
    return client


def test_the_allowance_list_shows_the_tier_limits(admin_client, teacher, spend):
    spend(teacher, 1_234)
    usage_plan_set(user=teacher, tier=Tier.FREE)
    page = admin_client.get(reverse("admin:usage_allowance_changelist")).content.decode()
    assert "Max : 26\u202f440\u202f000" in page  # usage.tiers: twenty classes a period
    assert "1 $ = 0,86 €" in page  # the operator's conversion rate (USD_EUR_RATE)
    assert teacher.email in page
    assert "1234" in page or "1\xa0234" in page  # used this period


def test_an_admin_sets_the_tier_by_hand_and_it_applies_at_once(admin_client, teacher):
    allowance = usage_plan_set(user=teacher, tier=Tier.FREE)
    response = admin_client.post(
        reverse("admin:usage_allowance_change", args=[allowance.pk]),
        {"user": teacher.pk, "tier": Tier.PRO, **dict.fromkeys(("period_start_0", "period_start_1"), "")},
    )
    assert response.status_code == 302
    assert usage_summary(user=teacher).limit == TIER_LIMITS[Tier.PRO]


def test_an_admin_gives_a_tier_to_a_user_who_never_had_an_allowance(admin_client, teacher):
    response = admin_client.post(reverse("admin:usage_allowance_add"), {"user": teacher.pk, "tier": Tier.ESSENTIEL})
    assert response.status_code == 302
    assert usage_summary(user=teacher).limit == TIER_LIMITS[Tier.ESSENTIEL]


def test_an_admin_prices_a_model_missing_from_the_map(admin_client):
    response = admin_client.post(
        reverse("admin:usage_modelprice_add"),
        {"model": "ollama/llama3.1", "input_per_token": "0.0000002", "output_per_token": "0.0000004"},
    )
    assert response.status_code == 302
    card = price_card("ollama/llama3.1")
    assert (card.input, card.output) == (Decimal("0.0000002"), Decimal("0.0000004"))
    assert card.cache_read == card.cache_write == card.input  # empty cache prices are the input price


def test_the_ledger_is_read_only(admin_client, teacher, spend):
    row = spend(teacher, 1_000)
    assert admin_client.get(reverse("admin:usage_usagerecord_add")).status_code == 403
    response = admin_client.post(reverse("admin:usage_usagerecord_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert UsageRecord.objects.filter(pk=row.pk).exists()


def test_an_exams_ledger_and_its_csv_export(admin_client, teacher, other_teacher, exam_of, spend):
    exam = exam_of(teacher)
    spend(teacher, 1_000, exam=exam, key="in-exam-1")
    spend(teacher, 2_000, exam=exam, phase="verification", key="in-exam-2")
    spend(other_teacher, 3_000, key="other")
    changelist = reverse("admin:usage_usagerecord_changelist")
    page = admin_client.get(f"{changelist}?exam={exam.pk}").content.decode()
    assert "in-exam" not in page  # keys are not listed, but the rows are:
    assert page.count('class="field-exam_link"') == 2
    response = admin_client.get(reverse("admin:usage_usagerecord_export") + f"?exam={exam.pk}")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(r["idempotency_key"] for r in rows) == ["in-exam-1", "in-exam-2"]
    assert {r["user__email"] for r in rows} == {teacher.email}


def test_the_csv_action_exports_the_selected_rows(admin_client, teacher, spend):
    rows = [spend(teacher, 1_000, key=f"k{i}") for i in range(3)]
    response = admin_client.post(
        reverse("admin:usage_usagerecord_changelist"),
        {"action": "export_csv", "_selected_action": [rows[0].pk, rows[2].pk]},
    )
    body = b"".join(response.streaming_content).decode()
    assert "k0" in body and "k2" in body and "k1" not in body


def test_the_report_shows_usage_per_user_and_month_and_top_spenders(admin_client, teacher, other_teacher, spend):
    spend(teacher, 1_000, completion=10)
    spend(other_teacher, 500_000, completion=10)
    page = admin_client.get(reverse("admin:usage_usagerecord_report")).content.decode()
    assert page.index(other_teacher.email) < page.index(teacher.email)  # the biggest spender first
    assert 'id="usage-per-month"' in page


def test_teachers_cannot_reach_the_report(owner_client):
    response = owner_client.get(reverse("admin:usage_usagerecord_report"))
    assert response.status_code == 302
