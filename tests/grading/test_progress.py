"""Live progress: fragments pushed through daphne and the Redis channel layer to the owner only."""

from __future__ import annotations

import asyncio

import pytest
import websockets
from django.test import Client

from grading import services
from grading.models import Copy, GradingJob
from grading.selectors import progress_context, progress_html
from grading.services import progress_send
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import Deadline
from tests.support.servers import celery_worker_start

from .conftest import roles_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
HEADERS = {"Origin": "http://localhost"}


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _url(server, exam) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/events/exam-{exam.pk}/"


async def _collect(url: str, cookie: str, action, *, until: str, timeout: float = 60) -> list[str]:
    """Messages until one contains `until`; `timeout` is the base of a scaled deadline."""
    received: list[str] = []
    async with websockets.connect(url, additional_headers={**HEADERS, "Cookie": cookie}) as ws:
        # No pause needed: the consumer joins the group before it accepts the handshake.
        await asyncio.to_thread(action)
        deadline = Deadline(timeout)
        while not deadline.expired():
            try:
                message = await asyncio.wait_for(ws.recv(), timeout=max(deadline.remaining(), 0.1))
            except TimeoutError:
                continue  # expired() measures the machine again and extends the deadline if slower
            received.append(message)
            if until in message:
                return received
    raise AssertionError(f"timed out after {deadline} waiting for a message with {until!r}: {len(received)} received")


async def _status(url: str, cookie: str) -> int:
    try:
        async with websockets.connect(url, additional_headers={**HEADERS, "Cookie": cookie}):
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


def test_progress_fragments_reach_the_owner_and_nobody_else(asgi_server, teacher, other_teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy_with_pages(exam, pages=1, label="Alice")
    url = _url(asgi_server, exam)

    assert asyncio.run(_status(url, _cookie(other_teacher))) == 403
    assert asyncio.run(_status(url, "")) == 403
    messages = asyncio.run(
        _collect(url, _cookie(teacher), lambda: progress_send(exam=exam), until="grading-progress", timeout=15)
    )
    assert 'id="grading-progress"' in messages[-1] and 'hx-swap-oob="true"' in messages[-1]


def test_a_job_graded_by_a_real_worker_streams_its_progress_and_a_reload_shows_the_same(
    asgi_server, llm_server, teacher, tmp_path
):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copies = [copy_with_pages(exam, pages=2, label=f"Élève {n}") for n in range(3)]
    worker = celery_worker_start(tmp_path, **roles_env(llm_server))
    try:
        messages = asyncio.run(
            _collect(
                _url(asgi_server, exam),
                _cookie(teacher),
                lambda: services.job_start(exam=exam, user=teacher),
                until='id="usage-bar"',  # only the final event carries the usage bar
            )
        )
    finally:
        worker.stop()

    assert all(Copy.objects.get(pk=c.pk).status == Copy.Status.DONE for c in copies), worker.log()[-3000:]
    assert GradingJob.objects.get(exam=exam).status == GradingJob.Status.FINISHED
    assert any("Correction en cours" in m for m in messages)
    assert "Correction terminée" in messages[-1] and "3 copie(s) sur 3" in messages[-1]
    assert messages[-1].count('hx-swap-oob="true"') == 2  # the progress block and the usage bar
    # The last pushed fragment is what the exam page renders from the database.
    assert messages[-1].startswith(progress_html(exam=exam))
    assert progress_context(exam=exam)["done"] == 3
