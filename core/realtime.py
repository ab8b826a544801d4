"""Realtime events: the one way code reaches the channel layer.

A group is named `<kind>-<id>` (`user-3`, `exam-12`). Each kind has an owner check,
registered by the app that owns the objects (core cannot import them); the websocket
consumer lets a user join a group only when the check says the user owns it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django import db

from .redis_client import redis_client, redis_key

logger = logging.getLogger(__name__)

OwnerCheck = Callable[[Any, int], bool]
_owner_checks: dict[str, OwnerCheck] = {
    "user": lambda user, pk: user.pk == pk,
}
EVENT_TYPE = "realtime.event"


def realtime_group_kind_register(kind: str, owner_check: OwnerCheck) -> None:
    _owner_checks[kind] = owner_check


def realtime_group_name(kind: str, pk: int) -> str:
    return f"{kind}-{pk}"


def realtime_user_owns_group(*, user: Any, group: str) -> bool:
    """True when `user` may listen to `group`. Unknown kinds and anonymous users: False."""
    if not getattr(user, "is_authenticated", False):
        return False
    kind, _, pk = group.partition("-")
    check = _owner_checks.get(kind)
    if check is None or not pk.isdigit():
        return False
    return bool(check(user, int(pk)))


def realtime_send(group: str, *, html: str = "", data: dict | None = None) -> None:
    """Sends an event to everyone listening to `group`.

    `html` is a server-rendered fragment (with hx-swap-oob targets) for the htmx
    websocket extension; `data` a JSON payload for other clients.
    """
    layer = get_channel_layer()
    message = {"type": EVENT_TYPE, "html": html, "data": data or {}}
    if _server_loop() is not None:
        # A view under the ASGI server: its own event loop sends it (async_to_sync's way).
        async_to_sync(layer.group_send)(group, message)
    else:
        _send_loop.run(layer.group_send(group, message))


def _server_loop() -> asyncio.AbstractEventLoop | None:
    """The ASGI server's running loop when this thread serves it (sync_to_async), else None."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


# A worker thread (Celery, the coalescing thread) has no event loop: async_to_sync then started
# a new loop on a new thread for every send, and channels_redis a new Redis connection with it
# (≈ 5 ms of a grading worker's CPU a copy, make bench's "other"). One loop per process, on a
# thread of its own, sends them all on connections it keeps.
SEND_TIMEOUT_S = 30.0


class _SendLoop:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def _current(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="realtime-send", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._current())
        try:
            return future.result(timeout=SEND_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise


_send_loop = _SendLoop()


# --- Coalesced events ---------------------------------------------------------------------
# A busy group (an exam whose 300 copies change state in parallel) gets at most one event per
# window: the first change opens a window and is sent at once (a lone change is never delayed);
# changes inside the window gather in a Redis set, and when the window closes the process that
# opened it sends them together. The state sent is read when it is sent, so the last state
# always arrives: a change made after a send is pending in the set, and whoever sends next (the
# window's closing, or the next change's new window) takes it.
#
# Redis holds the window and the pending set, so processes on several machines share them; a
# process that dies with a window open leaves its pending items to the next change (or the
# page's full reload when it reconnects).

_OPEN = """
for i = 3, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end
if #ARGV >= 3 then redis.call('PEXPIRE', KEYS[1], 3600000) end
if not redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[1]) then return false end
local items = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return {1, items}
"""
_CLOSE = """
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('SCARD', KEYS[1]) == 0 then return false end
if not redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[2]) then return false end
local items = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return {1, items}
"""
_TAKE = """
local items = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return items
"""

Flush = Callable[[list[str]], None]


def _keys(key: str) -> list[str]:
    return [redis_key("coalesce", key, "pending"), redis_key("coalesce", key, "window")]


def _items(reply: Any) -> list[str]:
    return sorted(item.decode() if isinstance(item, bytes) else str(item) for item in reply)


def realtime_coalesce(key: str, *, items: Iterable[str], window_s: float, flush: Flush) -> bool:
    """Marks `items` changed under `key`; `flush(items)` sends the pending ones, at most once
    per `window_s` per key across every process (see above). True when this call sent now."""
    window_ms = max(1, int(window_s * 1000))
    token = uuid.uuid4().hex
    reply = redis_client().eval(_OPEN, 2, *_keys(key), window_ms, token, *items)
    if not reply:
        return False
    flush(_items(reply[1]))
    _trailing.schedule(time.monotonic() + window_s, lambda: _close(key, token, window_s, flush))
    return True


def realtime_coalesced_take(key: str) -> list[str]:
    """The items pending under `key`, taken (for a final event sent at once, outside the window)."""
    return _items(redis_client().eval(_TAKE, 1, _keys(key)[0]))


def _close(key: str, token: str, window_s: float, flush: Flush) -> None:
    next_token = uuid.uuid4().hex
    window_ms = max(1, int(window_s * 1000))
    reply = redis_client().eval(_CLOSE, 2, *_keys(key), token, window_ms, next_token)
    if reply:
        flush(_items(reply[1]))
        _trailing.schedule(time.monotonic() + window_s, lambda: _close(key, next_token, window_s, flush))


class _Trailing:
    """One daemon thread per process runs the windows' closings when they are due."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._count = itertools.count()

    def schedule(self, when: float, action: Callable[[], None]) -> None:
        with self._ready:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                # First use, or a forked child (threads do not survive a fork).
                self._due = []
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="realtime-trailing", daemon=True)
                self._thread.start()
            heapq.heappush(self._due, (when, next(self._count), action))
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._ready.wait(timeout=self._due[0][0] - time.monotonic() if self._due else None)
                _when, _n, action = heapq.heappop(self._due)
            try:
                action()
            except Exception:
                logger.exception("coalesced realtime event failed")
            finally:
                # The flush may have read the database: this thread keeps no connection open
                # (a test database could not be dropped, a pooler slot would stay taken).
                db.connections.close_all()


_trailing = _Trailing()
