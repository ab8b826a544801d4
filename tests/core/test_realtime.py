"""Events from a Celery task reach the websocket of the group's owner, through real
daphne, a real Celery worker and the Redis channel layer."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from django.test import Client

from core.logging import request_id_var
from tests.factories import UserFactory
from tests.support.deadlines import scaled, wait_until
from tests.support.tasks import realtime_echo

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _ws_url(server, group: str) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/events/{group}/"


async def _receive_after(url: str, cookie: str, send) -> str:
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": "http://localhost"}) as ws:
        # No pause needed: the consumer joins the group before it accepts the handshake.
        await asyncio.to_thread(send)
        return await asyncio.wait_for(ws.recv(), timeout=scaled(15))


async def _handshake_status(url: str, headers: dict[str, str]) -> int:
    try:
        async with websockets.connect(url, additional_headers=headers):
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


def test_a_task_event_reaches_the_owner_websocket(asgi_server, celery_worker_process):
    owner = UserFactory()
    group = f"user-{owner.pk}"
    token = request_id_var.set("req-from-the-view-0001")
    try:
        message = asyncio.run(
            _receive_after(
                _ws_url(asgi_server, group),
                _session_cookie(owner),
                lambda: realtime_echo.delay(group, '<div id="progress">3/30</div>'),
            )
        )
    finally:
        request_id_var.reset(token)
    assert message == '<div id="progress">3/30</div>'

    # The worker logged the task with the request id of the code that enqueued it.
    wait_until(lambda: "realtime_echo sending" in celery_worker_process.log(), base=5, what="the worker's log line")
    lines = [json.loads(line) for line in celery_worker_process.log().splitlines() if line.startswith("{")]
    sent = [line for line in lines if line.get("message", "").startswith("realtime_echo sending")]
    assert sent and sent[0]["request_id"] == "req-from-the-view-0001"


def test_another_teacher_and_anonymous_visitors_cannot_join_a_group(asgi_server):
    owner, intruder = UserFactory(), UserFactory()
    url = _ws_url(asgi_server, f"user-{owner.pk}")
    origin = {"Origin": "http://localhost"}
    assert asyncio.run(_handshake_status(url, {**origin, "Cookie": _session_cookie(intruder)})) == 403
    assert asyncio.run(_handshake_status(url, origin)) == 403
    # Unknown group kinds are refused too, even to a logged-in user.
    other_kind = _ws_url(asgi_server, f"nothing-{owner.pk}")
    assert asyncio.run(_handshake_status(other_kind, {**origin, "Cookie": _session_cookie(owner)})) == 403


def test_a_foreign_origin_is_refused(asgi_server):
    owner = UserFactory()
    headers = {"Origin": "http://evil.example", "Cookie": _session_cookie(owner)}
    assert asyncio.run(_handshake_status(_ws_url(asgi_server, f"user-{owner.pk}"), headers)) == 403


def test_sends_from_threads_without_a_loop_share_one_loop_and_all_arrive():
    import threading

    from channels.layers import get_channel_layer

    from core import realtime

    layer = get_channel_layer()
    group = f"exam-{uuid.uuid4().int % 10**9}"
    loops = []

    def send(n: int) -> None:  # a worker's thread: no event loop of its own
        for k in range(2):
            realtime.realtime_send(group, data={"n": n, "k": k})
        loops.append(realtime._send_loop._current())

    async def scenario() -> list[dict]:
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        await asyncio.gather(*(asyncio.to_thread(send, n) for n in range(3)))
        return [await asyncio.wait_for(layer.receive(channel), scaled(10)) for _ in range(6)]

    received = sorted((m["data"]["n"], m["data"]["k"]) for m in asyncio.run(scenario()))

    assert received == [(n, k) for n in range(3) for k in range(2)]
    assert len({id(loop) for loop in loops}) == 1
    assert [t.name for t in threading.enumerate()].count("realtime-send") == 1
