"""Realtime events: the one way code reaches the channel layer.

A group is named `<kind>-<id>` (`user-3`, `exam-12`). Each kind has an owner check,
registered by the app that owns the objects (core cannot import them); the websocket
consumer lets a user join a group only when the check says the user owns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

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
    async_to_sync(layer.group_send)(group, {"type": EVENT_TYPE, "html": html, "data": data or {}})
