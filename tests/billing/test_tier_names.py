"""A tier has one name, the same on every page that shows it (usage.tiers.tier_label): the usage
bar, the plan cards and the subscription page; the free card does not say « Gratuit » twice."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from usage.services import usage_plan_set
from usage.tiers import Tier

pytestmark = pytest.mark.django_db


def _section(html: str, id_: str) -> str:
    return re.search(rf'<(section|div)[^>]*id="{id_}".*?</section>', html, re.S).group(0)


def _names_shown(client, language: str) -> dict[str, str]:
    """The tier's name as the dashboard's usage bar, the current plan card and the
    subscription page each print it."""
    get = lambda name: client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language).content.decode()  # noqa: E731
    bar = re.search(r'<span class="badge">([^<]+)</span>', _section(get("dashboard"), "usage-bar")).group(1)
    pricing = get("billing_pricing")
    card = re.findall(r'<section class="card" id="plan-\w+">\s*<h2>([^<]+)</h2>', pricing)
    subscription = re.search(r"<strong>([^<]+)</strong>", _section(get("billing_invoices"), "subscription")).group(1)
    return {"bar": bar.strip(), "cards": card, "subscription": subscription.strip()}


@pytest.mark.parametrize(
    ("tier", "language", "name"),
    [
        (Tier.FREE, "fr", "Gratuit"),
        (Tier.FREE, "en", "Free"),
        (Tier.PRO, "fr", "Pro"),
    ],
)
def test_the_tier_has_the_same_name_on_every_page(owner_client, teacher, tier, language, name):
    usage_plan_set(user=teacher, tier=tier)
    teacher.language = language  # a signed-in teacher's pages speak the profile's language
    teacher.save(update_fields=["language"])

    shown = _names_shown(owner_client, language)

    assert shown["bar"] == name
    assert shown["subscription"] == name
    assert name in shown["cards"]


def test_the_free_card_says_gratuit_once(client):
    card = _section(client.get(reverse("billing_pricing"), HTTP_ACCEPT_LANGUAGE="fr").content.decode(), "plan-free")

    assert card.count("Gratuit") == 1
    assert "0 €" in card and "une seule fois" in card
