"""Prices per token, from litellm's maintained price map or from the operator.

The map is the JSON file bundled with litellm (what litellm itself reads with
LITELLM_LOCAL_MODEL_COST_MAP=True). It is read here as data, without importing litellm
(a 5 s import reserved to the grading gateway). A model missing from the map needs an
operator price (admin: usage › model prices, or settings.CORRIGO_MODEL_PRICES); until then
`price_card` raises PriceMissing and grading with that model is refused.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

ZERO = Decimal(0)


class PriceMissing(Exception):
    def __init__(self, model: str):
        self.model = model
        super().__init__(
            _(
                "Le modèle « %(model)s » n'a pas de prix connu : un administrateur doit le renseigner "
                "avant toute correction avec ce modèle."
            )
            % {"model": model}
        )


@dataclass(frozen=True)
class PriceCard:
    """USD per token."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal


@dataclass(frozen=True)
class CallCost:
    prompt_cost: Decimal
    completion_cost: Decimal
    cached_cost: Decimal
    total_cost: Decimal
    savings: Decimal


@lru_cache(maxsize=1)
def _litellm_price_map() -> dict:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "model_prices_and_context_window_backup.json"
    return json.loads(path.read_text())


def _dec(value) -> Decimal:
    return Decimal(str(value)) if value is not None else ZERO


def _candidates(model: str) -> list[str]:
    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    return names


def price_card(model: str) -> PriceCard:
    """The model's price: the operator's when set (it wins), else litellm's map."""
    from .models import ModelPrice

    override = ModelPrice.objects.filter(model=model).first()
    if override is not None:
        return PriceCard(
            input=override.input_per_token,
            output=override.output_per_token,
            cache_read=override.cache_read_per_token
            if override.cache_read_per_token is not None
            else override.input_per_token,
            cache_write=override.cache_write_per_token
            if override.cache_write_per_token is not None
            else override.input_per_token,
        )
    configured = getattr(settings, "CORRIGO_MODEL_PRICES", {}).get(model)
    if configured:
        return PriceCard(
            input=_dec(configured["input"]),
            output=_dec(configured["output"]),
            cache_read=_dec(configured.get("cache_read", configured["input"])),
            cache_write=_dec(configured.get("cache_write", configured["input"])),
        )
    prices = _litellm_price_map()
    for name in _candidates(model):
        entry = prices.get(name)
        if entry and entry.get("input_cost_per_token") is not None:
            input_price = _dec(entry["input_cost_per_token"])
            return PriceCard(
                input=input_price,
                output=_dec(entry.get("output_cost_per_token")),
                cache_read=_dec(entry.get("cache_read_input_token_cost", entry["input_cost_per_token"])),
                cache_write=_dec(entry.get("cache_creation_input_token_cost", entry["input_cost_per_token"])),
            )
    raise PriceMissing(model)


def call_cost(
    card: PriceCard, *, prompt_tokens: int, completion_tokens: int, cached_read_tokens: int, cache_write_tokens: int
) -> CallCost:
    """Cost of one call. `prompt_tokens` counts every input token, cached ones included."""
    uncached = max(prompt_tokens - cached_read_tokens - cache_write_tokens, 0)
    prompt_cost = card.input * uncached
    completion_cost = card.output * completion_tokens
    cached_cost = card.cache_read * cached_read_tokens + card.cache_write * cache_write_tokens
    savings = (card.input - card.cache_read) * cached_read_tokens
    return CallCost(
        prompt_cost=prompt_cost,
        completion_cost=completion_cost,
        cached_cost=cached_cost,
        total_cost=prompt_cost + completion_cost + cached_cost,
        savings=savings,
    )
