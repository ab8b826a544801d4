"""Our prices against litellm's own cost calculator, on the usage shapes of each provider."""

from __future__ import annotations

from decimal import Decimal

import litellm
import pytest
from litellm.litellm_core_utils.llm_cost_calc.utils import calculate_prompt_caching_savings
from litellm.llms.anthropic.chat.transformation import AnthropicConfig
from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import VertexGeminiConfig
from litellm.types.utils import ModelResponse, Usage

from grading.engine.llm import tokens_from_usage
from usage.models import ModelPrice
from usage.pricing import PriceMissing, call_cost, price_card


def openai_usage(prompt, completion, cached=0, reasoning=0) -> Usage:
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        prompt_tokens_details={"cached_tokens": cached},
        completion_tokens_details={"reasoning_tokens": reasoning},
    )


def anthropic_usage(input_tokens, output, cache_read=0, cache_write=0) -> Usage:
    # The raw Messages API usage block, normalised by litellm's own Anthropic transformation.
    raw = {
        "input_tokens": input_tokens,
        "output_tokens": output,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }
    return AnthropicConfig().calculate_usage(raw, None)


def gemini_usage(prompt, candidates, cached=0, thoughts=0) -> Usage:
    metadata = {"promptTokenCount": prompt, "candidatesTokenCount": candidates, "totalTokenCount": prompt + candidates}
    if cached:
        metadata["cachedContentTokenCount"] = cached
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
        metadata["totalTokenCount"] += thoughts
    return VertexGeminiConfig._calculate_usage({"usageMetadata": metadata})


CASES = {
    "openai-uncached": ("gpt-4o-mini", openai_usage(12_000, 800)),
    "openai-cached": ("gpt-4o-mini", openai_usage(12_000, 800, cached=9_000)),
    "openai-prefixed-reasoning": ("openai/gpt-5-mini", openai_usage(12_000, 1_500, cached=9_000, reasoning=600)),
    "anthropic-uncached": ("anthropic/claude-sonnet-4-5", anthropic_usage(9_000, 400)),
    "anthropic-read-and-write": (
        "anthropic/claude-sonnet-4-5",
        anthropic_usage(1_000, 400, cache_read=5_000, cache_write=3_000),
    ),
    "anthropic-write-only": ("claude-haiku-4-5", anthropic_usage(1_000, 400, cache_write=6_000)),
    "anthropic-read-only": ("claude-haiku-4-5", anthropic_usage(1_000, 400, cache_read=6_000)),
    "gemini-uncached": ("gemini/gemini-2.5-flash", gemini_usage(20_000, 700)),
    "gemini-implicit-cache-thinking": (
        "gemini/gemini-2.5-flash",
        gemini_usage(20_000, 700, cached=15_000, thoughts=500),
    ),
    "gemini-above-200k": ("gemini/gemini-2.5-pro", gemini_usage(250_000, 700, cached=150_000, thoughts=500)),
}


@pytest.fixture(params=sorted(CASES), ids=sorted(CASES))
def case(request, db):
    model, usage = CASES[request.param]
    tokens = tokens_from_usage(usage)
    return model, usage, tokens, call_cost(price_card(model), **tokens)


def _provider(model: str) -> str:
    return litellm.get_llm_provider(model)[1]


def test_total_cost_matches_litellm_completion_cost(case):
    model, usage, _tokens, cost = case
    expected = litellm.completion_cost(completion_response=ModelResponse(model=model, usage=usage), model=model)
    assert float(cost.total_cost) == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert cost.total_cost > 0


def test_prompt_and_completion_parts_match_litellm_cost_per_token(case):
    model, usage, _tokens, cost = case
    prompt_cost, completion_cost = litellm.cost_per_token(model=model, usage_object=usage)
    assert float(cost.prompt_cost + cost.cached_cost) == pytest.approx(prompt_cost, rel=1e-9, abs=1e-15)
    assert float(cost.completion_cost) == pytest.approx(completion_cost, rel=1e-9, abs=1e-15)


def test_savings_match_litellm_prompt_caching_savings(case):
    model, usage, _tokens, cost = case
    expected = calculate_prompt_caching_savings(litellm.get_model_info(model), usage, _provider(model))
    assert float(cost.savings) == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_savings_are_positive_exactly_when_cached_tokens_are_read(case):
    _model, _usage, tokens, cost = case
    if tokens["cached_read_tokens"]:
        assert cost.savings > 0
    elif tokens["cache_write_tokens"]:
        assert cost.savings < 0  # writing the cache costs a premium, recovered on later reads
    else:
        assert cost.savings == 0
        assert cost.cached_cost == 0


@pytest.mark.django_db
def test_a_model_missing_from_the_map_has_no_price_rather_than_a_zero_one():
    with pytest.raises(PriceMissing) as refused:
        price_card("ollama/corrigo-maison-7b")
    assert "corrigo-maison-7b" in refused.value.message


@pytest.mark.django_db
def test_the_missing_price_message_is_translated():
    from django.utils import translation

    with translation.override("en"):
        message = str(PriceMissing("x/y"))
    assert "x/y" in message
    assert "prix" not in message


@pytest.mark.django_db
def test_an_operator_price_in_the_admin_prices_an_unknown_model_and_wins_over_the_map():
    ModelPrice.objects.create(
        model="ollama/corrigo-maison-7b", input_per_token=Decimal("0.000001"), output_per_token=Decimal("0.000002")
    )
    card = price_card("ollama/corrigo-maison-7b")
    assert card.input == Decimal("0.000001")
    assert card.cache_read == Decimal("0.000001")  # unset cache prices are the input price
    ModelPrice.objects.create(model="gpt-4o-mini", input_per_token=Decimal("0.5"), output_per_token=Decimal("1"))
    assert price_card("gpt-4o-mini").input == Decimal("0.5")


@pytest.mark.django_db
def test_an_operator_price_is_read_once_a_minute_and_at_once_after_a_change_saved_here(monkeypatch):
    from usage import pricing

    clock = [1000.0]
    monkeypatch.setattr(pricing.time, "monotonic", lambda: clock[0])
    price = ModelPrice.objects.create(
        model="ollama/maison", input_per_token=Decimal("1"), output_per_token=Decimal("1")
    )
    assert price_card("ollama/maison").input == Decimal("1")
    # Changed by another process (no signal here): this one keeps its reading for the TTL.
    ModelPrice.objects.filter(pk=price.pk).update(input_per_token=Decimal("2"))
    clock[0] += pricing.OPERATOR_CARD_TTL_S - 0.001
    assert price_card("ollama/maison").input == Decimal("1")
    clock[0] += 0.001  # exactly the TTL after the reading
    assert price_card("ollama/maison").input == Decimal("2")
    # Saved in this process (the admin): at once.
    price.input_per_token = Decimal("3")
    price.save()
    assert price_card("ollama/maison").input == Decimal("3")
    price.delete()
    with pytest.raises(PriceMissing):
        price_card("ollama/maison")


@pytest.mark.django_db
def test_a_model_priced_from_the_operators_table_costs_no_query_within_the_ttl(django_assert_num_queries):
    ModelPrice.objects.create(model="ollama/maison", input_per_token=Decimal("1"), output_per_token=Decimal("1"))
    price_card("ollama/maison")
    with django_assert_num_queries(0):
        price_card("ollama/maison")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cache_rates", "read_rate", "write_rate"),
    [
        ({"cache_read_per_token": "0.0000001", "cache_write_per_token": "0.00000125"}, "0.0000001", "0.00000125"),
        ({}, "0.000001", "0.000001"),  # left empty in the admin: the input price
    ],
)
def test_a_call_to_a_model_the_operator_priced_is_billed_at_each_of_the_rates_saved_in_the_admin(
    client, teacher, cache_rates, read_rate, write_rate
):
    from django.urls import reverse

    from tests.factories import UserFactory
    from usage.services import usage_record

    client.force_login(UserFactory(email="ops@corrigo.example", is_staff=True, is_superuser=True))
    form = {"model": "ollama/maison", "input_per_token": "0.000001", "output_per_token": "0.000004", **cache_rates}
    assert client.post(reverse("admin:usage_modelprice_add"), form).status_code == 302

    row = usage_record(
        user=teacher,
        phase="grading",
        model="ollama/maison",
        prompt_tokens=1_000,
        completion_tokens=200,
        cached_read_tokens=600,
        cache_write_tokens=300,
        idempotency_key="call-1",
    )

    row.refresh_from_db()
    read, write = Decimal(read_rate), Decimal(write_rate)
    assert (row.priced, row.prompt_cost, row.completion_cost, row.cached_cost) == (
        True,
        Decimal("0.000001") * 100,  # the 100 tokens neither read from nor written to the cache
        Decimal("0.000004") * 200,
        read * 600 + write * 300,
    )
