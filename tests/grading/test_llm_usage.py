"""The gateway's reading of litellm's `response.usage`: the token counts the ledger records."""

from __future__ import annotations

from grading.engine.llm import tokens_from_usage
from tests.usage.test_pricing import anthropic_usage


def test_litellm_counts_anthropic_cache_tokens_inside_prompt_tokens():
    usage = anthropic_usage(1_000, 400, cache_read=5_000, cache_write=3_000)
    assert usage.prompt_tokens == 9_000
    assert tokens_from_usage(usage) == {
        "prompt_tokens": 9_000,
        "completion_tokens": 400,
        "cached_read_tokens": 5_000,
        "cache_write_tokens": 3_000,
        "reasoning_tokens": 0,
    }


def test_tokens_from_usage_reads_plain_dicts_too():
    raw = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "prompt_tokens_details": {"cached_tokens": 60, "cache_creation_tokens": 10},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    assert tokens_from_usage(raw) == {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "cached_read_tokens": 60,
        "cache_write_tokens": 10,
        "reasoning_tokens": 5,
    }


def test_tokens_from_usage_falls_back_to_anthropics_own_cache_fields():
    raw = {
        "prompt_tokens": 2300,
        "completion_tokens": 40,
        "cache_read_input_tokens": 1800,
        "cache_creation_input_tokens": 400,
    }
    tokens = tokens_from_usage(raw)
    assert (tokens["cached_read_tokens"], tokens["cache_write_tokens"]) == (1800, 400)
