"""« Rédiger les appréciations manquantes » in Debian's Chromium, against daphne, a Celery worker
and the scripted LLM server: the review page announces the pass's progress from its live region,
polled without a reload, then its outcome; the copies that had none get the model's draft, the
teacher's own text is untouched, and each missing appréciation costs exactly one metered call.
The copies are graded through the engine and the scripted server (Q1 /4, Q2 /6)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from grading import services
from grading.models import Copy
from tests.browser.conftest import login
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env
from tests.grading.helpers import grades_json
from tests.support.deadlines import scaled, scaled_ms
from tests.support.servers import celery_worker_start, daphne_start
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# What the engine gives each copy, in the class's order of arrival.
POINTS = {"Abadie Léa": [3, 5], "Bernard Hugo": [1, 2], "Petit Inès": [4, 6]}
MINE = "Léa a bien travaillé ; soigner la rédaction."
BUTTON = "Rédiger les appréciations manquantes"


def _draft(name: str) -> str:
    return f"Appréciation du modèle pour {name}."


class HeldDrafts:
    """The scripted server's answer to an appréciation call: the draft for the copy whose
    readings the prompt carries, held until the test releases that call (in order of arrival)."""

    def __init__(self, calls: int):
        self.releases = [threading.Event() for _ in range(calls)]
        self._arrived = 0
        self._lock = threading.Lock()

    def __call__(self, text: str, model: str) -> str:
        with self._lock:
            number, self._arrived = self._arrived, self._arrived + 1
        if number < len(self.releases):
            self.releases[number].wait(scaled(120))
        name = next(name for name in POINTS if f"LECTURE {name}" in text)
        return json.dumps({"appreciation": _draft(name)})

    def release_all(self) -> None:
        for release in self.releases:
            release.set()


@pytest.fixture
def env(llm):
    # A held call must not time out in the worker while the test watches the page.
    return roles_env(llm) | {"CORRIGO_LLM_TIMEOUT": f"{scaled(120):.1f}"}


@pytest.fixture
def web(env, tmp_path):
    server = daphne_start(tmp_path, **env, CACHE_KEY_PREFIX=f"{django_settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}")
    yield server
    server.stop()


@pytest.fixture
def held(llm, env, tmp_path):
    """A Celery worker for the pass; the two appréciation calls held at the scripted server."""
    drafts = HeldDrafts(calls=2)
    llm.script(content=drafts, match="[TASK:appreciation]", times=2)
    worker = celery_worker_start(tmp_path, name="appreciations", concurrency=1, **env)
    yield drafts
    drafts.release_all()
    worker.stop()


@pytest.fixture
def graded(llm, eager_tasks):
    """Léa, Hugo and Inès graded inline through the engine and the scripted server."""
    teacher = UserFactory(email="prof.morel@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Équations")
    for name, points in POINTS.items():
        copy_with_pages(exam, pages=1, label=name, text=f"copie de {name}")
        llm.script(grades_json(points, readings=[f"LECTURE {name} q{n}" for n in (1, 2)]), match=f"copie de {name}")
    services.job_start(exam=exam, user=teacher)
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    llm.requests.clear()
    return exam


def _copy(exam, name: str) -> Copy:
    return exam.copies.get(student_label=name)


def _write(page, base: str, copy: Copy, text: str) -> None:
    """The teacher's own appréciation, typed on the copy page."""
    page.goto(f"{base}/copies/{copy.pk}/")
    page.locator("#appreciation-text").fill(text)
    with page.expect_navigation():
        page.locator("#appreciation").get_by_role("button", name="Enregistrer").click()


def _not_reloaded(page) -> bool:
    return page.evaluate("window.notReloaded === true")


def test_the_missing_appreciations_are_drafted_while_the_page_announces_the_progress(
    graded, web, held, llm, page, screenshot
):
    exam, teacher = graded, graded.owner
    lea, hugo, ines = (_copy(exam, name) for name in POINTS)
    login(page, web.url, teacher)
    _write(page, web.url, lea, MINE)
    page.goto(f"{web.url}/exams/{exam.pk}/review/")
    block = page.get_by_test_id("appreciations")
    last = UsageRecord.objects.order_by("-pk").values_list("pk", flat=True).first()
    assert "2 copies corrigées sans appréciation" in block.inner_text()

    with page.expect_navigation():
        block.get_by_role("button", name=BUTTON).click()

    # Announced from the live region, which the polling never replaces (only what is inside it).
    live = block.locator("[aria-live=polite]")
    progress = live.get_by_test_id("appreciations-progress")
    expect(progress).to_have_text("Rédaction par le modèle en cours : 0 / 2", timeout=scaled_ms(30))
    assert block.get_by_role("button", name=BUTTON).count() == 0  # not offered twice while it runs
    page.evaluate("window.notReloaded = true")
    live.evaluate("el => { el.dataset.kept = 'yes'; }")
    screenshot(page, "progress 0 of 2")

    held.releases[0].set()
    expect(progress).to_have_text("Rédaction par le modèle en cours : 1 / 2", timeout=scaled_ms(30))
    assert _not_reloaded(page)

    held.releases[1].set()
    outcome = live.get_by_test_id("appreciations-outcome")
    expect(outcome).to_contain_text("2 appréciations rédigées par le modèle", timeout=scaled_ms(30))
    assert _not_reloaded(page) and live.get_attribute("data-kept") == "yes"
    assert progress.count() == 0 and block.get_by_role("button", name=BUTTON).count() == 0  # none missing now
    screenshot(page, "outcome")

    # Each copy's page: the drafts where there was nothing, the teacher's text as she wrote it.
    for copy, text in ((lea, MINE), (hugo, _draft("Bernard Hugo")), (ines, _draft("Petit Inès"))):
        page.goto(f"{web.url}/copies/{copy.pk}/")
        expect(page.locator("#appreciation-text")).to_have_value(text)
    lea.refresh_from_db()
    assert (lea.appreciation, lea.appreciation_ai) == (MINE, "")

    # One metered call per missing appréciation: at the server and in the ledger.
    calls = [request for request in llm.requests if "[TASK:appreciation]" in request.text]
    assert len(calls) == 2 and len(llm.requests) == 2
    records = UsageRecord.objects.filter(pk__gt=last)
    assert sorted(records.values_list("phase", "copy_id")) == [("appreciation", hugo.pk), ("appreciation", ines.pk)]
    assert sorted(r.prompt_tokens for r in records) == sorted(call.usage["prompt_tokens"] for call in calls)
    assert page.console_errors == []


def test_nothing_is_offered_once_every_graded_copy_has_an_appreciation(graded, web, llm, page):
    exam, teacher = graded, graded.owner
    lea, hugo, ines = (_copy(exam, name) for name in POINTS)
    login(page, web.url, teacher)
    page.goto(f"{web.url}/exams/{exam.pk}/review/")
    assert "3 copies corrigées sans appréciation" in page.get_by_test_id("appreciations").inner_text()

    _write(page, web.url, lea, MINE)
    _write(page, web.url, ines, "Très bien.")
    # Hugo's: drafted on his page, then emptied by the teacher: an empty text she chose.
    page.goto(f"{web.url}/copies/{hugo.pk}/")
    page.locator("#appreciation").get_by_role("button", name="Rédiger avec l'IA").click()
    # The draft's block swapped in (the page's first call imports the model client in daphne).
    expect(page.locator("#appreciation-text")).not_to_have_value("", timeout=scaled_ms(30))
    _write(page, web.url, hugo, "")

    page.goto(f"{web.url}/exams/{exam.pk}/review/")
    expect(page.locator(".grade-input").first).to_be_visible()  # the page is there, its grid too
    assert page.get_by_test_id("appreciations").count() == 0
    assert page.get_by_role("button", name=BUTTON).count() == 0
    assert len(llm.requests) == 1  # the copy page's draft only
    assert page.console_errors == []
