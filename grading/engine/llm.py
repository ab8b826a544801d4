"""The one gateway to LLM providers. Nothing else in the project imports litellm.

Every call passes the shared rate limiter of its model first (core.ratelimit: requests and
tokens per minute from CORRIGO_RATE_LIMITS, the same budget for every worker machine); a 429
blocks the model for its Retry-After, for everyone, and the call is asked again once it has
passed: a copy waits rather than fails (up to CORRIGO_RATE_LIMIT_MAX_WAIT_S in all).

litellm is imported inside the functions: the import costs seconds, and web processes
that never call a model should not pay it (config/settings/base.py keeps it from fetching its
price map from the network). litellm's own retries are off: the Celery
task owns the retry policy (backoff + jitter, bounded under the broker visibility timeout).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, TypedDict

from django.conf import settings
from django.utils.translation import gettext_noop

from core.i18n import translatable
from core.ratelimit import Limits, RateLimitTimeout, ratelimit_acquire, ratelimit_block, ratelimit_settle

from .config import RoleConfig
from .errors import EngineError, PermanentLLMError, TransientLLMError


class LedgerTokens(TypedDict):
    """A call's token counts, as usage_record takes them."""

    prompt_tokens: int
    completion_tokens: int
    cached_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int


@dataclass(frozen=True)
class LLMResult:
    content: str
    finish_reason: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_read_tokens: int
    cache_write_tokens: int
    litellm_cost: Decimal | None
    seconds: float
    reasoning_tokens: int = 0
    # This answer's own id, drawn when it arrived: kept with it (services.answers), so its ledger
    # row is written once however often it is replayed, while a call made again for the same
    # request (its first answer lost) is a second bill with a row of its own.
    receipt: str = ""

    @property
    def truncated(self) -> bool:
        return self.finish_reason in ("length", "max_tokens")

    @property
    def ledger_tokens(self) -> LedgerTokens:
        """The token counts as usage_record takes them (one mapping for every caller)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_read_tokens": self.cached_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
        }


def _field(obj, name: str) -> int:
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return int(value) if isinstance(value, int | float) and value > 0 else 0


def tokens_from_usage(usage) -> LedgerTokens:
    """The token counts of a litellm `response.usage` (object or dict), as usage_record takes them.

    Duck-typed (litellm's Usage object, or a plain dict). Reads litellm's normalised fields, the
    same ones its cost calculator reads: prompt_tokens (every input token, cached included),
    prompt_tokens_details.cached_tokens, prompt_tokens_details.cache_creation_tokens (or
    cache_write_tokens), completion_tokens and completion_tokens_details.reasoning_tokens.
    """
    prompt_details = usage.get("prompt_tokens_details") if isinstance(usage, Mapping) else None
    if prompt_details is None and not isinstance(usage, Mapping):
        prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = usage.get("completion_tokens_details") if isinstance(usage, Mapping) else None
    if completion_details is None and not isinstance(usage, Mapping):
        completion_details = getattr(usage, "completion_tokens_details", None)
    cached = _field(prompt_details, "cached_tokens") if prompt_details else 0
    written = (
        (_field(prompt_details, "cache_write_tokens") or _field(prompt_details, "cache_creation_tokens"))
        if prompt_details
        else 0
    )
    return {
        "prompt_tokens": _field(usage, "prompt_tokens"),
        "completion_tokens": _field(usage, "completion_tokens"),
        # Anthropic's own names, which litellm also keeps at the top level of its usage.
        "cached_read_tokens": cached or _field(usage, "cache_read_input_tokens"),
        "cache_write_tokens": written or _field(usage, "cache_creation_input_tokens"),
        "reasoning_tokens": _field(completion_details, "reasoning_tokens") if completion_details else 0,
    }


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def llm_pool() -> ThreadPoolExecutor:
    """The process's threads for provider calls, kept from one copy to the next: a pool per
    round started new threads, each opening its own connections (Redis, the provider's HTTP
    client) for a single call. One per process: a forked child starts its own."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            pool = ThreadPoolExecutor(max_workers=settings.CORRIGO_LLM_THREADS, thread_name_prefix="llm")
            _pool = (os.getpid(), pool)
        return _pool[1]


@lru_cache(maxsize=1)
def _litellm():
    import litellm

    litellm.suppress_debug_info = True
    litellm.drop_params = True
    litellm.telemetry = False
    # No logging callbacks: the ledger records every call (services.answers). Each callback
    # costs the worker CPU on a logging thread for every call.
    for name in ("callbacks", "input_callback", "success_callback", "failure_callback", "service_callback"):
        setattr(litellm, name, [])
    litellm._async_success_callback = []
    litellm._async_failure_callback = []
    litellm.turn_off_message_logging = True
    return litellm


def _classify(exc: Exception) -> EngineError:
    litellm = _litellm()
    transient = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.BadGatewayError,
    )
    name = type(exc).__name__
    if isinstance(exc, transient) or getattr(exc, "status_code", 0) in (408, 409, 429, 500, 502, 503, 504, 529):
        return TransientLLMError(
            translatable(gettext_noop("Le fournisseur du modèle est indisponible (%(error)s)."), error=name)
        )
    message = str(getattr(exc, "message", "") or exc)[:300]
    return PermanentLLMError(
        translatable(
            gettext_noop("Le modèle a refusé la requête (%(error)s) : %(message)s"), error=name, message=message
        )
    )


# Without a Retry-After, a 429 blocks the model this long.
RETRY_AFTER_DEFAULT_S = 5.0
# Tokens an image is counted for in the limiter's estimate (corrected by the provider's count).
ESTIMATE_IMAGE_TOKENS = 1000


def _limits(model: str) -> Limits:
    requests, tokens = settings.CORRIGO_RATE_LIMITS.get(model, (0, 0))
    return Limits(requests=requests, tokens=tokens)


def _tokens_estimate(messages: list[dict], max_tokens: int) -> int:
    """What the provider counts against tokens per minute when the request arrives: the
    prompt (4 characters a token, images at a flat count) + the answer's cap."""
    chars, images = 0, 0
    for message in messages:
        content = message.get("content")
        for part in [content] if isinstance(content, str) else content or []:
            if isinstance(part, str):
                chars += len(part)
            elif isinstance(part, dict) and part.get("type") == "text":
                chars += len(part.get("text", ""))
            else:
                images += 1
    return chars // 4 + images * ESTIMATE_IMAGE_TOKENS + max_tokens


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """A 429's wait: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date."""
    if not headers:
        return None
    if (value := headers.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - time.time())


def _rate_limited(exc: Exception) -> bool:
    litellm = _litellm()
    return isinstance(exc, litellm.RateLimitError) or getattr(exc, "status_code", 0) == 429


def llm_complete(*, config: RoleConfig, messages: list[dict], max_tokens: int | None = None) -> LLMResult:
    """One chat completion on the role's model. Raises TransientLLMError / PermanentLLMError."""
    litellm = _litellm()
    kwargs: dict[str, Any] = {
        "model": config.model,
        "messages": messages,
        "max_tokens": max_tokens or settings.CORRIGO_LLM_MAX_TOKENS,
        "timeout": settings.CORRIGO_LLM_TIMEOUT,
        "temperature": 0,
        "num_retries": 0,
        "max_retries": 0,
    }
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_key:
        kwargs["api_key"] = config.api_key
    if not config.is_anthropic:
        # Anthropic has no JSON mode (litellm would turn it into a tool call); the prompt
        # asks for JSON there, and the answer is validated either way.
        kwargs["response_format"] = {"type": "json_object"}
    limits = _limits(config.model)
    estimate = _tokens_estimate(messages, kwargs["max_tokens"])
    budget = settings.CORRIGO_RATE_LIMIT_MAX_WAIT_S
    waited = 0.0
    while True:
        try:
            waited += ratelimit_acquire(config.model, limits=limits, tokens=estimate, max_wait=budget - waited)
        except RateLimitTimeout as exc:
            raise TransientLLMError(
                translatable(
                    gettext_noop("Limite de débit du fournisseur atteinte pour %(model)s : nouvel essai plus tard."),
                    model=config.model,
                )
            ) from exc
        started = time.monotonic()
        try:
            response = litellm.completion(**kwargs)
        except tuple(litellm.LITELLM_EXCEPTION_TYPES) as exc:
            # litellm maps every provider's errors to these classes. Anything else is a bug (ours
            # or litellm's): it reaches the task's error policy, the log and Sentry as itself.
            if not _rate_limited(exc):
                raise _classify(exc) from exc
            # Refused: it used no tokens. Everyone waits for the provider's Retry-After.
            ratelimit_settle(config.model, limits=limits, delta_tokens=-estimate)
            headers = getattr(exc, "litellm_response_headers", None) or getattr(
                getattr(exc, "response", None), "headers", None
            )
            wait = retry_after_seconds(headers)
            wait = RETRY_AFTER_DEFAULT_S if wait is None else wait
            if waited + wait > budget:
                raise _classify(exc) from exc
            ratelimit_block(config.model, seconds=wait)
            continue
        break
    seconds = time.monotonic() - started
    choice = response.choices[0]
    tokens = tokens_from_usage(getattr(response, "usage", None) or {})
    ratelimit_settle(
        config.model, limits=limits, delta_tokens=tokens["prompt_tokens"] + tokens["completion_tokens"] - estimate
    )
    cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
    return LLMResult(
        content=choice.message.content or "",
        finish_reason=str(choice.finish_reason or ""),
        model=config.model,
        prompt_tokens=tokens["prompt_tokens"],
        completion_tokens=tokens["completion_tokens"],
        cached_read_tokens=tokens["cached_read_tokens"],
        cache_write_tokens=tokens["cache_write_tokens"],
        reasoning_tokens=tokens["reasoning_tokens"],
        litellm_cost=Decimal(str(cost)) if cost is not None else None,
        seconds=seconds,
        receipt=uuid.uuid4().hex,
    )
