"""A rate limiter shared by every process on every machine: requests and tokens per minute per
key (a provider's model), kept in Redis and decided by one Lua script, so two workers can never
both take the last request of a minute.

Each limit is a GCRA bucket (the generic cell rate algorithm): a "theoretical arrival time"
(TAT) moves forward by 60 s / limit per request (or per token), and a request is let through
when that leaves the TAT at most 60 s ahead of now. That allows a whole minute's limit at once
(exactly `limit`, not one more) and then one more every 60 s / limit: a sliding minute with
one number per bucket. A request passes only when both buckets and any block let it through,
and then both move together. Time is Redis's clock, the same for every machine.

A provider's 429 blocks the key until its Retry-After (`ratelimit_block`), for every process.
Tokens are taken before the call from an estimate and corrected after it from the provider's
count (`ratelimit_settle`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from .redis_client import redis_client, redis_key

MINUTE_US = 60_000_000

_ACQUIRE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
local blocked = tonumber(redis.call('GET', KEYS[3]) or '0')
if blocked > now then wait = blocked - now end
local new = {}
for i = 1, 2 do
  local limit = tonumber(ARGV[i * 2 - 1])
  local cost = tonumber(ARGV[i * 2])
  if limit > 0 then
    if cost > limit then cost = limit end
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    new[i] = tat + cost * 60000000 / limit
    local over = new[i] - now - 60000000
    if over > 0.5 and over > wait then wait = over end
  end
end
if wait > 0 then return tostring(wait) end
for i = 1, 2 do
  if new[i] then redis.call('SET', KEYS[i], tostring(new[i]), 'PX', math.ceil((new[i] - now) / 1000) + 1000) end
end
return '0'
"""

_SETTLE = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = tat + tonumber(ARGV[2]) * 60000000 / limit
if tat <= now then redis.call('DEL', KEYS[1]) return 0 end
redis.call('SET', KEYS[1], tostring(tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 1
"""

_BLOCK = """
redis.replicate_commands()
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local till = now + tonumber(ARGV[1])
local blocked = tonumber(redis.call('GET', KEYS[1]) or '0')
if till > blocked then
  redis.call('SET', KEYS[1], tostring(till), 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
"""


@dataclass(frozen=True)
class Limits:
    """Per minute; 0 means no limit of that kind."""

    requests: int = 0
    tokens: int = 0


def _keys(key: str) -> list[str]:
    return [redis_key("ratelimit", key, part) for part in ("requests", "tokens", "blocked")]


def ratelimit_try(key: str, *, limits: Limits, tokens: int) -> float:
    """Takes one request of `tokens` tokens if every limit and block allows it now: 0.0. Else
    takes nothing and returns the seconds to wait before it would pass."""
    reply = redis_client().eval(_ACQUIRE, 3, *_keys(key), limits.requests, 1, limits.tokens, max(0, tokens))
    return float(reply) / 1_000_000


def ratelimit_acquire(key: str, *, limits: Limits, tokens: int, max_wait: float) -> float:
    """Waits until a request of `tokens` tokens may go, and takes it. Returns the seconds
    waited; raises RateLimitTimeout once waiting would exceed `max_wait` in all."""
    waited = 0.0
    while (wait := ratelimit_try(key, limits=limits, tokens=tokens)) > 0:
        if waited + wait > max_wait:
            raise RateLimitTimeout(key, waited + wait)
        # Others may take what frees first: ask again when it should be free.
        time.sleep(wait)
        waited += wait
    return waited


def ratelimit_settle(key: str, *, limits: Limits, delta_tokens: int) -> None:
    """Corrects the tokens taken by a request once its real count is known (`delta_tokens`
    = real − estimated; negative gives tokens back)."""
    if limits.tokens > 0 and delta_tokens:
        redis_client().eval(_SETTLE, 1, _keys(key)[1], limits.tokens, delta_tokens)


def ratelimit_block(key: str, *, seconds: float) -> None:
    """No request under `key` for `seconds`, in every process (a provider's Retry-After)."""
    if seconds > 0:
        redis_client().eval(_BLOCK, 1, _keys(key)[2], int(seconds * 1_000_000))


class RateLimitTimeout(Exception):
    def __init__(self, key: str, seconds: float):
        super().__init__(f"{key}: no room within the allowed wait ({seconds:.1f} s needed)")
        self.key = key
        self.seconds = seconds
