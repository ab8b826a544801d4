"""The usage bar: figures, colour bands, the almost-full message in both languages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.support.counts import agreed, grouped
from usage.selectors import TIER_LIMITS, Tier, typical_copies_in, usage_bar_html
from usage.services import usage_plan_set, usage_reserve

pytestmark = pytest.mark.django_db

WARNING_FR = "Limite presque atteinte — pensez à changer d'offre"
WARNING_EN = "Almost at your limit — consider upgrading"
LIMIT = TIER_LIMITS[Tier.FREE]


def share(percent: int) -> int:
    """Tokens that are `percent` % of the FREE allowance (exact: it is a multiple of 1 000)."""
    return LIMIT * percent // 100


def colour(html: str) -> str:
    return re.search(r'id="usage-bar" class="usage-bar usage-(\w+)"', html).group(1)


@pytest.mark.parametrize(
    ("percent", "expected"),
    [(0, "violet"), (69, "violet"), (70, "amber"), (90, "amber"), (91, "red"), (100, "red")],
)
def test_the_colour_follows_the_share_used(teacher, spend, percent, expected):
    if percent:
        spend(teacher, share(percent))
    html = usage_bar_html(user=teacher)
    assert colour(html) == expected
    assert (WARNING_FR in html) is (expected == "red")


def test_tokens_held_by_a_running_job_count_towards_the_colour(teacher, spend):
    spend(teacher, share(50))
    usage_reserve(user=teacher, key="job-1", tokens=share(45))
    html = usage_bar_html(user=teacher)
    assert colour(html) == "red"
    assert "594\xa0900 réservés" in html  # 45 % of 1 322 000


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("held", [0, 1, 2, 1_234])
def test_the_tokens_held_agree_with_their_count(teacher, language, held):
    teacher.language = language
    teacher.save(update_fields=["language"])
    if held:
        usage_reserve(user=teacher, key="job-1", tokens=held)
    html = usage_bar_html(user=teacher)
    word = agreed(held, language, {"fr": ("réservé", "réservés"), "en": ("held", "held")})
    by = {"fr": "par une correction en cours", "en": "by a grading in progress"}[language]
    said = f"{grouped(held, language)} {word} {by}"
    assert (said in html) is bool(held)  # nothing held, nothing said
    assert (by in html) is bool(held)


def test_the_free_bar_says_it_is_given_once_and_shows_the_figures(teacher, spend):
    spend(teacher, 12_345)
    html = usage_bar_html(user=teacher)
    assert "allocation donnée une seule fois" in html
    assert "1\xa0322\xa0000" in html  # French grouping
    assert "1\xa0309\xa0655" in html  # remaining
    # Copies first (typical ones: 4 pages, double correction), tokens as the detail.
    assert f"≈ {typical_copies_in(LIMIT - 12_345)} copies restantes" in html
    assert "(copie type : 4 pages, double correction)" in html
    assert 'width="0"' in html  # the SVG fill (under 1 %), no style attribute
    assert "style=" not in html


def test_a_paid_bar_shows_the_renewal_date(teacher):
    usage_plan_set(user=teacher, tier=Tier.PRO)
    html = usage_bar_html(user=teacher)
    assert "une seule fois" not in html
    # Periods renew on the 1st of a month: French writes it « 1er ».
    assert re.search(r"Se renouvelle le 1er [a-zéû]+ 20\d\d", html), html
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    assert re.search(r"1 [A-Z][a-z]+ 20\d\d", usage_bar_html(user=teacher))
    assert "1er" not in usage_bar_html(user=teacher)


def test_a_date_is_written_with_the_ordinal_only_on_the_first_of_a_month_in_french():
    from datetime import date

    from django.template import Context, Template
    from django.utils import translation

    template = Template('{% load dates %}{{ a|long_date }} · {{ b|long_date }} · {{ a|long_date:"DATE_FORMAT" }}')
    context = Context({"a": date(2027, 1, 1), "b": date(2027, 3, 15)})
    with translation.override("fr"):
        assert template.render(context) == "1er janvier 2027 · 15 mars 2027 · 1er janvier 2027"
    with translation.override("en"):
        assert template.render(context) == "1 January 2027 · 15 March 2027 · Jan. 1, 2027"


def test_the_bar_pushed_by_a_worker_speaks_the_teachers_language(teacher, spend):
    spend(teacher, share(95))
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    html = usage_bar_html(user=teacher)
    assert WARNING_EN in html
    assert "tokens used" in html
    assert f"≈ {typical_copies_in(LIMIT - share(95))} copies left" in html
    assert "(typical copy: 4 pages, double grading)" in html
    assert "Limite" not in html


def test_the_bar_can_be_pushed_as_an_out_of_band_swap(teacher):
    assert 'hx-swap-oob="true"' in usage_bar_html(user=teacher, oob=True)
    assert "hx-swap-oob" not in usage_bar_html(user=teacher)


def test_an_almost_full_bar_links_to_the_pricing_page(teacher, spend):
    spend(teacher, share(95))
    html = usage_bar_html(user=teacher)
    assert f'href="{reverse("billing_pricing")}"' in html


def test_the_dashboard_shows_the_bar_in_the_teachers_language(owner_client, teacher, spend):
    spend(teacher, share(95))
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert 'id="usage-bar"' in page and WARNING_FR in page
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert WARNING_EN in page


def test_the_bar_endpoint_returns_the_partial_for_htmx(owner_client, teacher, spend):
    spend(teacher, share(75))
    response = owner_client.get(reverse("usage_bar"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith('<section id="usage-bar"')
    assert colour(html) == "amber"


def test_the_bar_endpoint_needs_a_login(client):
    response = client.get(reverse("usage_bar"))
    assert response.status_code == 302


def test_the_exam_page_and_the_pricing_page_show_the_bar(owner_client, teacher, exam_of, spend):
    spend(teacher, share(80))
    for url in (reverse("exam_detail", args=[exam_of(teacher).pk]), reverse("billing_pricing")):
        page = owner_client.get(url).content.decode()
        assert colour(page) == "amber", url
