"""Prices per token, from litellm's maintained price map or from the operator.

The map is the JSON file bundled with litellm (what litellm itself reads with
LITELLM_LOCAL_MODEL_COST_MAP=True). It is read here as data, without importing litellm
(a 5 s import reserved to the grading gateway). A model missing from the map needs an
operator price (admin: usage › model prices, a ModelPrice row); until then
`price_card` raises PriceMissing and grading with that model is refused. A model is never
priced at zero by default.

`call_cost` follows litellm's `generic_cost_per_token` (the calculator behind OpenAI,
Anthropic and Gemini): uncached input at the input rate, cache reads at the cache-read rate,
cache writes at the cache-creation rate (absent rates fall back to the input rate), output
at the output rate, reasoning tokens at the reasoning rate when the map has one, and the
`*_above_<N>k_tokens` rates for every token type once the prompt is above N. Not modelled
(litellm has them, our gateway does not use them): service tiers (flex/priority/batch),
1-hour cache writes, off-peak windows, Dashscope-style `tiered_pricing`, regional uplifts.
"""

from __future__ import annotations

import importlib.util
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

from django.utils.translation import gettext as _

from core.errors import ApplicationError

from .models import ModelPrice

ZERO = Decimal(0)
_THRESHOLD_KEY = re.compile(
    r"^(?:input_cost_per_token|output_cost_per_token|cache_read_input_token_cost|cache_creation_input_token_cost)"
    r"_above_(\d+k?)_tokens$"
)


class PriceMissing(ApplicationError):
    def __init__(self, model: str):
        self.model = model
        super().__init__(
            _(
                "Le modèle « %(model)s » n'a pas de prix connu : un administrateur doit le renseigner "
                "(Administration › Prix des modèles) avant toute correction avec ce modèle."
            )
            % {"model": model}
        )


@dataclass(frozen=True)
class PriceCard:
    """USD per token. `above` holds the rates that apply once the prompt exceeds a threshold."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    reasoning: Decimal | None = None
    above: tuple[tuple[int, PriceCard], ...] = field(default=())

    def for_prompt(self, prompt_tokens: int) -> PriceCard:
        """The rates a call with `prompt_tokens` input tokens is billed at (litellm: strictly above)."""
        card = self
        for threshold, tier in sorted(self.above, key=lambda item: item[0]):
            if prompt_tokens > threshold:
                card = tier
        return card


@dataclass(frozen=True)
class CallCost:
    prompt_cost: Decimal  # uncached input
    completion_cost: Decimal
    cached_cost: Decimal  # cache reads + cache writes
    total_cost: Decimal
    savings: Decimal  # what the cached tokens would have cost at the input rate − what they cost


@lru_cache(maxsize=1)
def _litellm_price_map() -> dict:
    # find_spec locates the package without importing it.
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    prices = json.loads(path.read_text())
    prices.pop("sample_spec", None)  # the schema's example entry, all zeros
    return prices


def _dec(value: float | str) -> Decimal:
    return Decimal(str(value))


@overload
def _rate(entry: Mapping[str, Any], key: str, fallback: Decimal) -> Decimal: ...
@overload
def _rate(entry: Mapping[str, Any], key: str, fallback: Decimal | None) -> Decimal | None: ...
def _rate(entry: Mapping[str, Any], key: str, fallback: Decimal | None) -> Decimal | None:
    value = entry.get(key)
    return _dec(value) if value is not None else fallback


def _threshold(text: str) -> int:
    return int(text.rstrip("k")) * (1000 if text.endswith("k") else 1)


def _card_from_map_entry(entry: Mapping[str, Any]) -> PriceCard:
    input_rate = _dec(entry["input_cost_per_token"])
    output_rate = _rate(entry, "output_cost_per_token", ZERO)
    # An explicit reasoning rate holds at every threshold; without one, reasoning tokens are
    # output tokens at the rate of the tier in use.
    reasoning_rate = _rate(entry, "output_cost_per_reasoning_token", None)
    # Cache rates stay unresolved (None) until the end: litellm bills an absent cache rate at
    # the input rate of the tier in use.
    cache_read = _rate(entry, "cache_read_input_token_cost", None)
    cache_write = _rate(entry, "cache_creation_input_token_cost", None)
    tiers = []
    # litellm walks the thresholds upwards, each tier's absent rates keeping the previous ones.
    tier_input, tier_output, tier_read, tier_write = input_rate, output_rate, cache_read, cache_write
    thresholds = {m.group(1) for key, value in entry.items() if value is not None and (m := _THRESHOLD_KEY.match(key))}
    for text in sorted(thresholds, key=_threshold):
        suffix = f"above_{text}_tokens"
        tier_input = _rate(entry, f"input_cost_per_token_{suffix}", tier_input)
        tier_output = _rate(entry, f"output_cost_per_token_{suffix}", tier_output)
        tier_read = _rate(entry, f"cache_read_input_token_cost_{suffix}", tier_read)
        tier_write = _rate(entry, f"cache_creation_input_token_cost_{suffix}", tier_write)
        tiers.append(
            (
                _threshold(text),
                PriceCard(
                    input=tier_input,
                    output=tier_output,
                    cache_read=tier_read if tier_read is not None else tier_input,
                    cache_write=tier_write if tier_write is not None else tier_input,
                    reasoning=reasoning_rate,
                ),
            )
        )
    return PriceCard(
        input=input_rate,
        output=output_rate,
        cache_read=cache_read if cache_read is not None else input_rate,
        cache_write=cache_write if cache_write is not None else input_rate,
        reasoning=reasoning_rate,
        above=tuple(tiers),
    )


def _map_candidates(model: str) -> list[str]:
    # litellm names carry a provider prefix ("anthropic/claude-…"); the map keys some
    # models with it ("gemini/gemini-2.5-flash") and others without ("claude-sonnet-4-5").
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    return names


# The operator's prices are read once per OPERATOR_CARD_TTL_S by each process (a grading worker
# prices every call it records): a change saved in the admin applies at once in the process
# that saved it (operator_cards_forget, on ModelPrice's post_save and post_delete) and within
# the TTL in the others.
OPERATOR_CARD_TTL_S = 60.0
_operator_cards: dict[str, tuple[float, PriceCard | None]] = {}


def operator_cards_forget(**_kwargs) -> None:
    _operator_cards.clear()


def _operator_card(model: str) -> PriceCard | None:
    now = time.monotonic()
    cached = _operator_cards.get(model)
    if cached is not None and now < cached[0]:
        return cached[1]
    card = _operator_card_read(model)
    _operator_cards[model] = (now + OPERATOR_CARD_TTL_S, card)
    return card


def _operator_card_read(model: str) -> PriceCard | None:
    row = ModelPrice.objects.filter(model=model).first()
    if row is None:
        return None
    # Empty cache rates are billed at the input rate, as litellm does for an absent rate.
    return PriceCard(
        input=row.input_per_token,
        output=row.output_per_token,
        cache_read=row.cache_read_per_token if row.cache_read_per_token is not None else row.input_per_token,
        cache_write=row.cache_write_per_token if row.cache_write_per_token is not None else row.input_per_token,
    )


def price_card(model: str) -> PriceCard:
    """The model's price: the operator's when set (it wins), else litellm's map, else PriceMissing."""
    card = _operator_card(model)
    if card is not None:
        return card
    prices = _litellm_price_map()
    for name in _map_candidates(model):
        entry = prices.get(name)
        if isinstance(entry, dict) and entry.get("input_cost_per_token") is not None:
            return _card_from_map_entry(entry)
    raise PriceMissing(model)


def call_cost(
    card: PriceCard,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cached_read_tokens: int,
    cache_write_tokens: int,
    reasoning_tokens: int = 0,
) -> CallCost:
    """Cost of one call.

    `prompt_tokens` counts every input token, cache reads and cache writes included (litellm's
    normalised usage); `reasoning_tokens` are part of `completion_tokens`.
    """
    rates = card.for_prompt(prompt_tokens)
    uncached = max(prompt_tokens - cached_read_tokens - cache_write_tokens, 0)
    prompt_cost = rates.input * uncached
    reasoning_rate = rates.reasoning if rates.reasoning is not None else rates.output
    reasoning = min(reasoning_tokens, completion_tokens)
    completion_cost = rates.output * (completion_tokens - reasoning) + reasoning_rate * reasoning
    cached_cost = rates.cache_read * cached_read_tokens + rates.cache_write * cache_write_tokens
    # litellm's calculate_prompt_caching_savings: the read discount minus the write premium.
    savings = (
        max(rates.input - rates.cache_read, ZERO) * cached_read_tokens
        - (rates.cache_write - rates.input) * cache_write_tokens
    )
    return CallCost(
        prompt_cost=prompt_cost,
        completion_cost=completion_cost,
        cached_cost=cached_cost,
        total_cost=prompt_cost + completion_cost + cached_cost,
        savings=savings,
    )
