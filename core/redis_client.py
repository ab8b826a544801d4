"""The project's own Redis client (the cache, the channel layer and the broker keep theirs).

One connection pool per process, thread-safe (redis-py resets it in a forked child). Keys are
namespaced with REDIS_PREFIX, so several deployments or test runs share one server.
"""

from __future__ import annotations

from functools import lru_cache

import redis
from django.conf import settings


@lru_cache(maxsize=1)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def redis_key(*parts: object) -> str:
    """`<REDIS_PREFIX>:part:part…`."""
    return ":".join([settings.REDIS_PREFIX, *(str(part) for part in parts)])
