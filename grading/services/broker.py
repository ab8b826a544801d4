"""What the Celery broker (Redis) holds for the copy tasks: read only, for the reconciliation and
for a copy task passing its copy on (services.passing_on).

kombu's Redis transport keeps a queue as a list (one more list per priority step) and the
messages delivered but not yet acknowledged (running, or waiting for their countdown in a
worker) in the hash `unacked`, indexed by delivery time in `unacked_index`, all under the
transport's global key prefix. A copy whose id is in none of them has no task that will
grade it soon.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import cast

import redis
from celery.utils.nodenames import worker_direct
from django.conf import settings

COPY_TASK = "grading.tasks.copy_grade_task"
PRIORITY_SEPARATOR = "\x06\x16"  # kombu.transport.redis.Channel.sep
PRIORITY_STEPS = (3, 6, 9)  # kombu's default steps above 0
CHUNK = 500


def _copy_id(raw: bytes | str) -> int | None:
    """The copy id of a copy task's message (kombu's JSON envelope), else None."""
    try:
        message = json.loads(raw)
        if isinstance(message, list):  # an unacked entry: [message, exchange, routing key]
            message = message[0]
        if message.get("headers", {}).get("task") != COPY_TASK:
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return int(args[0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _prefix() -> str:
    return str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("global_keyprefix", ""))


def _queue_keys(prefix: str, name: str | None = None) -> list[str]:
    """A queue (the copy tasks' unless `name`): a list, and one more per priority step."""
    queue = prefix + (name or settings.CELERY_TASK_DEFAULT_QUEUE)
    return [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]


def _messages(
    client: redis.Redis, prefix: str, *, fresh_since: float, nodes: Iterable[str] = ()
) -> Iterator[bytes | str]:
    # The copy tasks' queue, then the own queues (Celery's worker_direct) of the live workers
    # `nodes`, where a copy passed on waits for its worker (services.passing_on).
    keys = _queue_keys(prefix) + [key for node in nodes for key in _queue_keys(prefix, worker_direct(node).name)]
    for key in keys:
        start = 0
        while chunk := client.lrange(key, start, start + CHUNK - 1):
            yield from chunk
            start += CHUNK
    # Unacknowledged messages delivered since `fresh_since` (the index scores delivery times).
    # Members only (no withscores): a list of delivery tags.
    tags = cast("list[bytes]", client.zrangebyscore(prefix + "unacked_index", fresh_since, "+inf"))
    for start in range(0, len(tags), CHUNK):
        yield from (entry for entry in client.hmget(prefix + "unacked", tags[start : start + CHUNK]) if entry)


def broker_copy_ids(*, delivered_within: float, nodes: Iterable[str] = ()) -> set[int]:
    """Ids of the copies a copy task waits for in the queue or in the own queue of one of the
    live workers `nodes` (their Celery node names), or was delivered for less than
    `delivered_within` seconds ago (running, or held for its countdown by a live worker).

    An older delivery of a copy still queued belongs to a worker that died before taking it:
    Redis would give it to another worker only after the visibility timeout (an hour)."""
    prefix = _prefix()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=10, socket_connect_timeout=5)
    try:
        messages = _messages(client, prefix, fresh_since=time.time() - delivered_within, nodes=nodes)
        return {copy_id for raw in messages if (copy_id := _copy_id(raw)) is not None}
    finally:
        client.close()


@lru_cache(maxsize=1)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


def broker_copies_waiting() -> int:
    """Messages waiting in the copy tasks' queue, not delivered to any worker yet (one round trip;
    a copy task asks it as it starts: services.passing_on)."""
    with _client(settings.CELERY_BROKER_URL).pipeline(transaction=False) as pipe:
        for key in _queue_keys(_prefix()):
            pipe.llen(key)
        return sum(pipe.execute())
