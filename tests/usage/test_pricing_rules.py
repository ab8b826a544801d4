"""Pricing and period rules on tables of cases, without a database: the prompt-size tiers at
their threshold, the rates each kind of token is billed at, and usage periods across a new
year (test_pricing.py checks the same calculator against litellm's own, provider by provider)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from usage.models import Allowance
from usage.periods import billing_period, month_start, usage_period
from usage.pricing import PriceCard, PriceMissing, _card_from_map_entry, _map_candidates, call_cost
from usage.tiers import Tier, copies_in

D = Decimal

# Rates chosen so that every kind of token costs a different amount.
BASE = PriceCard(input=D("0.001"), output=D("0.01"), cache_read=D("0.0001"), cache_write=D("0.002"))
LONG = PriceCard(input=D("0.003"), output=D("0.03"), cache_read=D("0.0003"), cache_write=D("0.006"))
LONGER = PriceCard(input=D("0.005"), output=D("0.05"), cache_read=D("0.0005"), cache_write=D("0.01"))


def cost(card: PriceCard, prompt: int, completion: int = 0, *, read: int = 0, write: int = 0, **extra):
    return call_cost(
        card,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_read_tokens=read,
        cache_write_tokens=write,
        **extra,
    )


@pytest.mark.parametrize(
    ("prompt", "rates"),
    [(128_000, BASE), (128_001, LONG), (200_000, LONG), (200_001, LONGER)],
)
def test_the_rates_above_a_threshold_apply_strictly_above_it_whatever_order_they_are_given_in(prompt, rates):
    card = PriceCard(**{**BASE.__dict__, "above": ((200_000, LONGER), (128_000, LONG))})

    chosen = card.for_prompt(prompt)
    assert (chosen.input, chosen.output, chosen.cache_read, chosen.cache_write) == (
        rates.input,
        rates.output,
        rates.cache_read,
        rates.cache_write,
    )
    assert cost(card, prompt).prompt_cost == rates.input * prompt


def test_a_map_entry_with_thresholds_gives_one_tier_per_threshold_each_keeping_the_rates_it_does_not_name():
    entry = {
        "input_cost_per_token": 0.001,
        "output_cost_per_token": 0.01,
        "cache_read_input_token_cost": 0.0001,
        "input_cost_per_token_above_200k_tokens": 0.005,
        "output_cost_per_token_above_200k_tokens": 0.05,
        "input_cost_per_token_above_128k_tokens": 0.003,
        "cache_read_input_token_cost_above_1000_tokens": 0.00005,
        "output_cost_per_token_above_64k_tokens": None,  # a rate the map leaves empty names no tier
    }

    card = _card_from_map_entry(entry)

    assert [threshold for threshold, _tier in card.above] == [1_000, 128_000, 200_000]
    tiers = dict(card.above)
    assert tiers[1_000] == PriceCard(
        input=D("0.001"), output=D("0.01"), cache_read=D("0.00005"), cache_write=D("0.001")
    )
    assert tiers[128_000] == PriceCard(
        input=D("0.003"), output=D("0.01"), cache_read=D("0.00005"), cache_write=D("0.003")
    )
    assert tiers[200_000] == PriceCard(
        input=D("0.005"), output=D("0.05"), cache_read=D("0.00005"), cache_write=D("0.005")
    )
    # Without a cache-write rate, writes cost the input rate of the tier in use.
    assert (card.input, card.output, card.cache_read, card.cache_write) == (
        D("0.001"),
        D("0.01"),
        D("0.0001"),
        D("0.001"),
    )


def test_without_any_cache_read_rate_each_tier_reads_the_cache_at_its_own_input_rate():
    entry = {
        "input_cost_per_token": 0.001,
        "output_cost_per_token": 0.01,
        "input_cost_per_token_above_200k_tokens": 0.002,
    }

    card = _card_from_map_entry(entry)

    assert (card.cache_read, card.cache_write) == (D("0.001"), D("0.001"))
    assert card.above == (
        (200_000, PriceCard(input=D("0.002"), output=D("0.01"), cache_read=D("0.002"), cache_write=D("0.002"))),
    )


def test_each_kind_of_token_is_billed_at_its_own_rate():
    result = cost(BASE, 1_000, 300, read=600, write=100)

    assert result.prompt_cost == D("0.001") * 300  # 1 000 − 600 read − 100 written
    assert result.completion_cost == D("0.01") * 300
    assert result.cached_cost == D("0.0001") * 600 + D("0.002") * 100
    assert result.total_cost == result.prompt_cost + result.completion_cost + result.cached_cost
    assert result.savings == (D("0.001") - D("0.0001")) * 600 - (D("0.002") - D("0.001")) * 100


def test_a_prompt_read_and_written_whole_has_no_uncached_part():
    assert cost(BASE, 1_000, read=700, write=300).prompt_cost == 0


def test_reasoning_tokens_are_output_tokens_unless_the_card_prices_them():
    reasoning = PriceCard(**{**BASE.__dict__, "reasoning": D("0.02")})

    assert cost(reasoning, 100, 50).completion_cost == D("0.01") * 50  # none by default
    assert cost(reasoning, 100, 50, reasoning_tokens=20).completion_cost == D("0.01") * 30 + D("0.02") * 20
    assert cost(BASE, 100, 50, reasoning_tokens=20).completion_cost == D("0.01") * 50
    # More reasoning than output (a provider's rounding) bills the output once.
    assert cost(reasoning, 100, 50, reasoning_tokens=80).completion_cost == D("0.02") * 50


def test_a_missing_price_names_its_model():
    assert PriceMissing("ollama/maison").model == "ollama/maison"


def paris(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


@pytest.mark.parametrize(
    ("moment", "months", "start"),
    [
        (paris(2027, 3, 15, 12), 0, paris(2027, 3, 1)),
        (paris(2027, 3, 15, 12), 1, paris(2027, 4, 1)),
        (paris(2027, 12, 31, 23, 30), 1, paris(2028, 1, 1)),
        (paris(2027, 1, 1), -1, paris(2026, 12, 1)),
        (datetime(2027, 2, 28, 23, 30, tzinfo=UTC), 0, paris(2027, 3, 1)),  # already March in Paris
    ],
)
def test_a_month_starts_at_local_midnight_on_its_first_day(moment, months, start):
    assert month_start(moment, months) == start


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "period"),
    [
        (utc(2026, 12, 29), (utc(2026, 11, 30), utc(2026, 12, 30))),  # the renewal after billing's period
        (utc(2027, 1, 29), (utc(2026, 12, 30), utc(2027, 1, 30))),  # across the new year
        (utc(2027, 3, 1), (utc(2027, 2, 28), utc(2027, 3, 30))),  # February clamps the day
    ],
)
def test_a_period_billing_has_not_renewed_rolls_across_the_new_year(now, period):
    allowance = Allowance(tier=Tier.PRO, period_start=utc(2026, 10, 30), period_end=utc(2026, 11, 30))

    assert usage_period(allowance, now=now) == period


def test_free_usage_has_no_period_and_a_paid_tier_without_one_counts_the_month():
    when = paris(2027, 5, 20, 9)

    assert usage_period(Allowance(tier=Tier.FREE), now=when) == (None, None)
    assert usage_period(Allowance(tier=Tier.ESSENTIEL), now=when) == (paris(2027, 5, 1), paris(2027, 6, 1))
    backwards = Allowance(tier=Tier.ESSENTIEL, period_start=utc(2027, 6, 1), period_end=utc(2027, 5, 1))
    assert usage_period(backwards, now=when) == (paris(2027, 5, 1), paris(2027, 6, 1))
    not_yet = Allowance(tier=Tier.ESSENTIEL, period_start=utc(2027, 6, 1), period_end=utc(2027, 7, 1))
    assert usage_period(not_yet, now=when) == (paris(2027, 5, 1), paris(2027, 6, 1))


def test_thresholds_are_taken_in_numeric_order_with_every_rate_carried_up():
    # Sorted as text, "200k" would come before "64k".
    entry = {
        "input_cost_per_token": 0.001,
        "output_cost_per_reasoning_token": 0.02,
        "cache_creation_input_token_cost": 0.0015,
        "input_cost_per_token_above_64k_tokens": 0.003,
        "cache_read_input_token_cost_above_64k_tokens": 0.0004,
        "cache_creation_input_token_cost_above_200k_tokens": 0.009,
    }

    card = _card_from_map_entry(entry)

    assert (card.output, card.reasoning, card.cache_read, card.cache_write) == (0, D("0.02"), D("0.001"), D("0.0015"))
    assert card.above == (
        (
            64_000,
            PriceCard(input=D("0.003"), output=0, cache_read=D("0.0004"), cache_write=D("0.0015"), reasoning=D("0.02")),
        ),
        (
            200_000,
            PriceCard(input=D("0.003"), output=0, cache_read=D("0.0004"), cache_write=D("0.009"), reasoning=D("0.02")),
        ),
    )


@pytest.mark.parametrize(
    ("model", "names"),
    [
        ("gpt-4o", ["gpt-4o"]),
        ("anthropic/claude-sonnet-4-5", ["anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"]),
        ("openrouter/openai/gpt-4o", ["openrouter/openai/gpt-4o", "openai/gpt-4o"]),
    ],
)
def test_a_model_is_looked_up_as_named_then_without_its_provider(model, names):
    assert _map_candidates(model) == names


@pytest.mark.parametrize(
    ("start", "end", "now", "period"),
    [
        # A period longer than a month (billing said so): renewals count from its end.
        (utc(2026, 10, 30), utc(2026, 12, 30), utc(2027, 1, 15), (utc(2026, 12, 30), utc(2027, 1, 30))),
        (
            utc(2026, 10, 30),
            utc(2026, 11, 30),
            utc(2026, 10, 30),
            (utc(2026, 10, 30), utc(2026, 11, 30)),
        ),  # its 1st instant
        (
            utc(2027, 5, 10),
            utc(2027, 5, 10),
            utc(2027, 5, 20),
            (paris(2027, 5, 1), paris(2027, 6, 1)),
        ),  # empty: the month
    ],
)
def test_a_billing_period_is_in_force_from_its_first_instant_and_an_empty_one_is_the_month(start, end, now, period):
    assert billing_period(start, end, now=now) == period


@pytest.mark.parametrize(
    ("remaining", "tokens", "worst", "copies"),
    [
        (0, 100, 300, 0),
        (299, 100, 300, 0),  # not even the first copy's worst case
        (300, 100, 300, 1),
        (399, 100, 300, 1),
        (400, 100, 300, 2),
        (1_000, 100, 50, 10),  # a worst case under the estimate counts as the estimate
        (1_000, 1, 300, 701),  # the smallest estimate there is: one token a copy
        (1_000, 0, 300, 0),
        (1_000, -5, 300, 0),
    ],
)
def test_copies_that_fit_leave_room_for_one_worst_case(remaining, tokens, worst, copies):
    assert copies_in(remaining, tokens=tokens, worst=worst) == copies
