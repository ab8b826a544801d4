"""Live progress: what changed pushed through daphne and the Redis channel layer to the owner
only, coalesced per exam; the page's full block rendered only when it (re)connects."""

from __future__ import annotations

import asyncio
import html
import math
import re
import time
from decimal import Decimal

import pytest
import websockets
from django.test import Client

from grading import services
from grading.models import Copy, GradingJob
from grading.selectors import progress_context, progress_delta_html, progress_html
from grading.services import progress_push, progress_send
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import Deadline
from tests.support.servers import celery_worker_start

from .conftest import roles_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
HEADERS = {"Origin": "http://localhost"}
ROOT = re.compile(r'<(section|div|li) id="([^"]+)"[^>]*hx-swap-oob="true"')


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def _url(server, exam) -> str:
    return f"ws://127.0.0.1:{server.port}/ws/events/exam-{exam.pk}/"


async def _collect(url: str, cookie: str, action, *, until, timeout: float = 60) -> list[str]:
    """Messages until `until(received)` holds; `timeout` is the base of a scaled deadline."""
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
            if until(received):
                return received
    raise AssertionError(f"timed out after {deadline} waiting for the last message: {len(received)} received")


async def _status(url: str, cookie: str) -> int:
    try:
        async with websockets.connect(url, additional_headers={**HEADERS, "Cookie": cookie}):
            return 101
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code


def _roots(html: str) -> dict[str, str]:
    """The out-of-band roots of a message by id, as the htmx ws extension swaps them."""
    starts = [(m.start(), m.group(2), m.group(1)) for m in ROOT.finditer(html)]
    roots = {}
    for n, (start, ident, tag) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(html)
        chunk = html[start:end]
        roots[ident] = chunk[: chunk.rindex(f"</{tag}>") + len(f"</{tag}>")]
    return roots


def _page(messages: list[str]) -> dict[str, str]:
    """What a page shows after applying every message in order (later swaps win)."""
    shown: dict[str, str] = {}
    for message in messages:
        shown.update(_roots(message))
    return shown


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).replace('hx-swap-oob="true"', "").split())


def test_progress_reaches_the_owner_and_nobody_else(asgi_server, teacher, other_teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy_with_pages(exam, pages=1, label="Alice")
    url = _url(asgi_server, exam)

    assert asyncio.run(_status(url, _cookie(other_teacher))) == 403
    assert asyncio.run(_status(url, "")) == 403
    messages = asyncio.run(
        _collect(url, _cookie(teacher), lambda: progress_send(exam=exam), until=lambda m: True, timeout=15)
    )
    assert 'id="progress-summary"' in messages[-1] and 'hx-swap-oob="true"' in messages[-1]


def test_an_event_carries_the_counters_and_only_the_rows_that_changed(teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copies = [copy_with_pages(exam, pages=1, label=f"Élève {n:02d}") for n in range(30)]
    services.job_start(exam=exam, user=teacher)
    copies[7].refresh_from_db()
    copies[7].transition(source=[Copy.Status.QUEUED], target=Copy.Status.FAILED, failure_reason="Illisible")

    roots = _roots(progress_delta_html(exam=exam, copy_ids=[copies[7].pk]))

    assert list(roots) == ["progress-summary", f"copy-status-{copies[7].pk}"]
    assert "0 copie traitée sur 30" not in _text(roots["progress-summary"])
    assert "1 copie traitée sur 30" in _text(roots["progress-summary"])
    assert "0 terminée, 1 en échec" in _text(roots["progress-summary"])
    assert "Élève 07" in roots[f"copy-status-{copies[7].pk}"] and "Illisible" in roots[f"copy-status-{copies[7].pk}"]
    # The same rows as the full block renders (the page after a reload).
    full = progress_html(exam=exam, oob=False)
    assert _text(roots[f"copy-status-{copies[7].pk}"]) in _text(full)
    assert full.count("<li ") == 30


def test_changes_inside_a_window_arrive_together_with_the_last_counters(asgi_server, teacher, settings):
    settings.CORRIGO_PROGRESS_WINDOW_S = 2.0
    exam = exam_with_bareme(owner=teacher, questions=1)
    copies = [copy_with_pages(exam, pages=1, label=f"Élève {n:02d}") for n in range(12)]
    job = GradingJob.objects.create(exam=exam, created_by=teacher, total_copies=12)
    Copy.objects.filter(exam=exam).update(job=job)

    def finish_all() -> None:
        for copy in copies:
            copy.transition(source=[Copy.Status.QUEUED], target=Copy.Status.DONE)
            progress_push(exam, copies=[copy.pk])

    started = time.monotonic()
    messages = asyncio.run(
        _collect(
            _url(asgi_server, exam),
            _cookie(teacher),
            finish_all,
            until=lambda received: "12 copies traitées sur 12" in received[-1],
            timeout=30,
        )
    )
    elapsed = time.monotonic() - started

    # At most one event per window (the first change is sent at once, the rest when it closes).
    assert 2 <= len(messages) <= 1 + math.ceil(elapsed / settings.CORRIGO_PROGRESS_WINDOW_S)
    assert len(messages) < len(copies)
    assert _roots(messages[0]).keys() == {"progress-summary", f"copy-status-{copies[0].pk}"}
    shown = _page(messages)
    assert {f"copy-status-{copy.pk}" for copy in copies} <= shown.keys()
    assert all("Terminée" in shown[f"copy-status-{copy.pk}"] for copy in copies)
    assert "12 terminées, 0 en échec" in _text(shown["progress-summary"])


def _streamed_by_a_worker(asgi_server, llm_server, teacher, tmp_path, exam, *, start):
    """The messages a page of `exam` receives while a real worker grades what `start` launches,
    until the job's final event (the only one with the usage bar); and the stopped worker (its log)."""
    worker = celery_worker_start(tmp_path, **roles_env(llm_server))
    try:
        messages = asyncio.run(
            _collect(
                _url(asgi_server, exam),
                _cookie(teacher),
                start,
                until=lambda received: 'id="usage-bar"' in received[-1],
            )
        )
    finally:
        worker.stop()
    return messages, worker


def test_a_job_graded_by_a_real_worker_streams_its_progress_and_a_reload_shows_the_same(
    asgi_server, llm_server, teacher, tmp_path
):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    copies = [copy_with_pages(exam, pages=2, label=f"Élève {n}") for n in range(3)]
    messages, worker = _streamed_by_a_worker(
        asgi_server, llm_server, teacher, tmp_path, exam, start=lambda: services.job_start(exam=exam, user=teacher)
    )

    assert all(Copy.objects.get(pk=c.pk).status == Copy.Status.DONE for c in copies), worker.log()[-3000:]
    assert GradingJob.objects.get(exam=exam).status == GradingJob.Status.FINISHED
    assert any("Correction en cours" in m for m in messages)
    assert "Correction terminée" in messages[-1] and "3 copies traitées sur 3" in messages[-1]
    # No event carries the whole block: the summary, changed rows and, at the end, the usage bar.
    assert not any('id="grading-progress"' in m for m in messages)
    # The page that applied every event shows what a reload renders from the database.
    shown = _page(messages)
    full = progress_html(exam=exam, oob=False)
    assert _text(shown["progress-summary"]) in _text(full)
    for copy in copies:
        assert _text(shown[f"copy-status-{copy.pk}"]) in _text(full)
        assert "Terminée" in shown[f"copy-status-{copy.pk}"]
    assert progress_context(exam=exam)["done"] == 3


def test_a_calibration_rounds_live_progress_says_where_the_exam_stands_as_a_reload_does(
    asgi_server, llm_server, teacher, tmp_path
):
    # Six copies, a round of three: « 3 copies traitées sur 3 » alone read as "the exam is graded".
    exam = exam_with_bareme(owner=teacher, questions=1)
    for n in range(6):
        copy_with_pages(exam, pages=1, label=f"Élève {n}")
    calibration = services.calibration_create(exam=exam, count=3)
    question = exam.questions.get()
    points = {(copy.pk, question.pk): Decimal("1") for copy in calibration.copies.all()}
    messages, worker = _streamed_by_a_worker(
        asgi_server,
        llm_server,
        teacher,
        tmp_path,
        exam,
        start=lambda: services.calibration_submit(calibration=calibration, user=teacher, points=points),
    )

    assert GradingJob.objects.get(exam=exam).status == GradingJob.Status.FINISHED, worker.log()[-3000:]
    assert any("Tour de calibration en cours" in m for m in messages)
    final = html.unescape(_text(_roots(messages[-1])["progress-summary"]))
    assert "Tour de calibration terminé : 3 copies traitées sur 3." in final
    assert "Sur les 6 copies de l'examen : 3 corrigées, 3 restent à corriger." in final
    assert "Correction terminée" not in final
    assert final in html.unescape(_text(progress_html(exam=exam, oob=False)))
