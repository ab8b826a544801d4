"""The public pages through their views: the front page for a visitor (the dashboard for a
teacher), the privacy page and the legal notice, in French and in English, each saying what
the configuration really does (plans, providers, retention, operator)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from billing.plans import PLANS
from usage.tiers import TIER_LIMITS, Tier, typical_copies_in

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    """The page as a reader sees it: tags gone, entities decoded, spaces collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"</?(strong|code|a|span)\b[^>]*>", "", html)  # inline: no space added
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace("\xa0", " ").replace("\u202f", " ")


def _head(response) -> tuple[str, str]:
    html = response.content.decode()
    title = unescape(re.search(r"<title>(.*?)</title>", html, re.S).group(1)).strip()
    description = unescape(re.search(r'<meta name="description" content="([^"]*)"', html).group(1))
    return title, description


def _get(client, name: str, language: str):
    return client.get(reverse(name), HTTP_ACCEPT_LANGUAGE=language)


@pytest.fixture
def providers(settings):
    settings.CORRIGO_DEMO_MODE = False
    settings.CORRIGO_LLM = {
        "detection": {"model": "mistral/mistral-small-latest", "api_base": "", "api_key": ""},
        "grader_a": {"model": "openai/gpt-4o", "api_base": "", "api_key": ""},
        "grader_b": {"model": "anthropic/claude-sonnet-4-5", "api_base": "", "api_key": ""},
    }


def test_a_visitor_at_the_root_reads_the_front_page_in_french(client, providers, settings):
    settings.CORRIGO_RETENTION_DAYS = 200

    response = _get(client, "dashboard", "fr")

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "public/home.html"
    text = _text(response)
    for heading in ("En trois étapes", "Vous restez le correcteur", "Les données de vos élèves", "Offres"):
        assert heading in text
    # Providers as configured: the reading model's and the graders', each named once.
    assert "Mistral AI (modèle de lecture)" in text
    assert "OpenAI, Anthropic (modèles de correction)" in text
    assert "[NAME]" in text and "bandeau du nom" in text
    # Training: promised only for the providers whose API terms exclude it, whatever the plan.
    assert "Les conditions de l'API de OpenAI, Anthropic excluent par défaut" in text
    assert "Pour Mistral AI, cela dépend de l'offre choisie par l'exploitant" in text
    assert "après 200 jours sans activité" in text
    # Every tier with its allowance in copies, tokens beside (usage.tiers), and price (billing.plans), free once.
    assert text.count("Gratuit") == 1
    assert f"≈ {typical_copies_in(TIER_LIMITS[Tier.FREE])} copies pour essayer, une seule fois" in text
    assert "(au moins une classe de 30 copies)" in text
    assert f"{TIER_LIMITS[Tier.FREE]:,} jetons".replace(",", " ") in text
    for plan in PLANS.values():
        assert f"{plan.amount:.0f} € / mois" in text
        assert f"≈ {typical_copies_in(TIER_LIMITS[plan.tier]):,} copies par période".replace(",", " ") in text
        assert f"double correction · {TIER_LIMITS[plan.tier]:,} jetons".replace(",", " ") in text
    assert 'href="#demo"' in response.content.decode()
    assert reverse("account_signup") in response.content.decode()


def test_the_front_page_is_complete_in_english(client, providers):
    response = _get(client, "dashboard", "en")

    text = _text(response)
    assert "In three steps" in text and "You remain the grader" in text and "Your students' data" in text
    assert "Mistral AI (reading model)" in text
    assert f"≈ {typical_copies_in(TIER_LIMITS[Tier.FREE])} copies to try, once" in text
    assert f"typical copy: 4 pages, double grading · {TIER_LIMITS[Tier.FREE]:,} tokens" in text
    assert "Gratuit" not in text  # the tier label is translated too
    assert "Free" in text
    # No French sentence left: the words that appear in almost every French line.
    for french in (" les ", " des ", " vos ", "jetons", "correction "):
        assert french not in text, french


def test_a_signed_in_teacher_at_the_root_gets_the_dashboard(owner_client):
    response = owner_client.get("/")

    assert [t.name for t in response.templates][0] == "grading/dashboard.html"
    assert "Mes corrections" in response.content.decode()


def test_in_demo_mode_the_front_page_names_no_provider(client, settings):
    settings.CORRIGO_DEMO_MODE = True

    text = _text(_get(client, "dashboard", "fr"))

    assert "aucun fournisseur de modèle ne reçoit quoi que ce soit" in text
    assert "les notes sont simulées" in text
    assert "rien ne quitte le serveur" in text
    assert "OpenAI" not in text and "Anthropic" not in text


def test_a_retention_of_zero_says_files_are_kept_until_deleted(client, providers, settings):
    settings.CORRIGO_RETENTION_DAYS = 0

    text = _text(_get(client, "privacy", "fr"))

    assert "gardés jusqu'à ce que vous les supprimiez" in text
    assert "supprimés automatiquement" not in text


def test_the_legal_notice_is_filled_from_settings(client, settings):
    settings.CORRIGO_OPERATOR_NAME = "Lycée Victor Hugo"
    settings.CORRIGO_OPERATOR_ADDRESS = "3 rue des Lilas, 86000 Poitiers"
    settings.CORRIGO_OPERATOR_EMAIL = "dpo@lycee-hugo.example"
    settings.CORRIGO_PUBLICATION_DIRECTOR = "Claire Dupont"
    settings.CORRIGO_HOST_NAME = "Hébergeur Exemple SAS"
    settings.CORRIGO_HOST_ADDRESS = "1 quai de Seine, 75019 Paris"
    settings.CORRIGO_DATA_LOCATION = "France (Paris)"
    settings.CORRIGO_OPERATOR_REGISTRATION = ""

    french = _text(_get(client, "legal_notice", "fr"))
    english = _text(_get(client, "legal_notice", "en"))

    for value in (
        "Lycée Victor Hugo",
        "3 rue des Lilas",
        "dpo@lycee-hugo.example",
        "Claire Dupont",
        "Hébergeur Exemple SAS",
    ):
        assert value in french and value in english
    assert "Directeur de la publication Claire Dupont" in french
    assert "Director of publication Claire Dupont" in english
    # What is missing is said, with the variable the operator sets.
    assert "non renseigné (l'exploitant le donne dans CORRIGO_OPERATOR_REGISTRATION)" in french
    assert "not provided (the operator sets it in CORRIGO_OPERATOR_REGISTRATION)" in english


def test_the_privacy_page_names_the_operator_location_and_rights(client, providers, settings):
    settings.CORRIGO_OPERATOR_NAME = "Lycée Victor Hugo"
    settings.CORRIGO_OPERATOR_EMAIL = "dpo@lycee-hugo.example"
    settings.CORRIGO_HOST_NAME = "Hébergeur Exemple SAS"
    settings.CORRIGO_DATA_LOCATION = "France (Paris)"
    settings.BILLING_ENABLED = True

    french = _text(_get(client, "privacy", "fr"))
    english = _text(_get(client, "privacy", "en"))

    assert (
        "Lycée Victor Hugo" in french
        and 'href="mailto:dpo@lycee-hugo.example"' in _get(client, "privacy", "fr").content.decode()
    )
    assert "gardés en France (Paris), chez Hébergeur Exemple SAS" in french
    assert "kept in France (Paris), by Hébergeur Exemple SAS" in english
    assert "Stripe" in french and "CNIL" in french and "articles 15 à 21" in french
    assert "Your rights" in english and "articles 15 to 21" in english


def test_a_self_hosted_model_is_named_by_its_server(client, providers, settings):
    settings.CORRIGO_LLM = {
        **settings.CORRIGO_LLM,
        "grader_a": {"model": "openai/qwen", "api_base": "http://gpu.lycee.example:8000/v1", "api_key": ""},
        "grader_b": {"model": "openai/qwen", "api_base": "http://gpu.lycee.example:8000/v1", "api_key": ""},
    }

    text = _text(_get(client, "dashboard", "fr"))

    assert "gpu.lycee.example (modèles de correction)" in text
    assert "OpenAI" not in text
    assert "Pour Mistral AI, cela dépend de l'offre" in text  # the reading model still leaves
    assert "excluent par défaut" not in text


def test_with_every_model_self_hosted_no_provider_is_said_to_receive_copies(client, providers, settings):
    server = {"model": "openai/qwen", "api_base": "http://gpu.lycee.example:8000/v1", "api_key": ""}
    settings.CORRIGO_LLM = {"detection": server, "grader_a": server, "grader_b": server}

    french = _text(_get(client, "privacy", "fr"))
    english = _text(_get(client, "privacy", "en"))

    assert "aucun fournisseur de modèle ne reçoit les copies" in french
    assert "cela dépend de l'offre" not in french and "excluent par défaut" not in french
    assert "no model provider receives the copies" in english


@pytest.mark.parametrize("language", ["fr", "en"])
def test_each_public_page_has_its_own_title_and_description(client, providers, language):
    heads = [_head(_get(client, name, language)) for name in ("dashboard", "privacy", "legal_notice")]

    titles = [title for title, _ in heads]
    descriptions = [description for _, description in heads]
    assert len(set(titles)) == 3 and all(title.endswith("· Corrigo") for title in titles)
    assert len(set(descriptions)) == 3 and all(len(description) > 50 for description in descriptions)


def test_every_page_links_the_privacy_page_and_legal_notice(owner_client):
    html = owner_client.get(reverse("billing_pricing")).content.decode()

    assert f'href="{reverse("privacy")}"' in html and f'href="{reverse("legal_notice")}"' in html
