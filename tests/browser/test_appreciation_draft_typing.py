"""« Rédiger avec l'IA » on a copy page in Debian's Chromium, against daphne and the scripted LLM
server, while the teacher writes her own appréciation: the draft call is held at the server while
she types, then the call returns. The button asks without leaving the page (htmx swaps the block):
a text she typed and has not saved stays in the field, where she goes on typing, the model's draft
offered by « Rétablir le texte de l'IA » with a message; one she saved meanwhile (« Enregistrer »,
in this tab or another) is kept on the page and in the database, the draft offered beside it.
Without typing, the draft fills the field. The call is metered exactly once.
The copy is graded through the engine and the scripted server (Q1 /4, Q2 /6)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import Locator, Page, expect

from grading import services
from grading.models import Copy
from tests.browser.conftest import login
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env
from tests.grading.helpers import grades_json
from tests.support.deadlines import scaled, scaled_ms, wait_until
from tests.support.servers import daphne_start
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NAME = "Abadie Léa"
MINE = "Léa a bien travaillé ; soigner la rédaction."
DRAFT = "Appréciation du modèle pour Léa : des équations bien posées."
TASK = "[TASK:appreciation]"
KEPT = "Votre appréciation, enregistrée pendant la rédaction, est gardée"
KEPT_TYPED = "Votre texte, pas encore enregistré, est resté dans le champ"
DRAFTED = "Appréciation rédigée par le modèle : relisez-la."


class HeldDraft:
    """The scripted server's answer to the appréciation call, held until the test releases it."""

    def __init__(self):
        self.release = threading.Event()

    def __call__(self, text: str, model: str) -> str:
        self.release.wait(scaled(120))
        return json.dumps({"appreciation": DRAFT})


@pytest.fixture
def web(llm, tmp_path):
    # The held call must not time out in daphne while the test types and saves.
    env = roles_env(llm) | {"CORRIGO_LLM_TIMEOUT": f"{scaled(120):.1f}"}
    server = daphne_start(tmp_path, **env, CACHE_KEY_PREFIX=f"{django_settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}")
    yield server
    server.stop()


@pytest.fixture
def held(llm):
    draft = HeldDraft()
    llm.script(content=draft, match=TASK)
    yield draft
    draft.release.set()


@pytest.fixture
def graded(llm, eager_tasks):
    """Léa's copy graded inline through the engine and the scripted server; no appréciation yet."""
    teacher = UserFactory(email="prof.morel@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Équations")
    copy = copy_with_pages(exam, pages=1, label=NAME, text=f"copie de {NAME}")
    llm.script(grades_json([3, 5], readings=[f"LECTURE {NAME} q{n}" for n in (1, 2)]), match=f"copie de {NAME}")
    services.job_start(exam=exam, user=teacher)
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE and (copy.appreciation, copy.appreciation_ai) == ("", "")
    llm.requests.clear()
    return copy


def _centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


@dataclass
class Opened:
    """Léa's copy page open for her teacher, and the last ledger row before the test's call."""

    copy: Copy
    page: Page
    last: int | None

    @property
    def form(self) -> Locator:
        return self.page.locator("#appreciation")

    @property
    def text(self) -> Locator:
        return self.page.locator("#appreciation-text")


@pytest.fixture
def opened(graded, web, page) -> Opened:
    last = UsageRecord.objects.order_by("-pk").values_list("pk", flat=True).first()
    login(page, web.url, graded.exam.owner)
    page.goto(f"{web.url}/copies/{graded.pk}/")
    expect(page.locator("#appreciation-text")).to_have_value("")
    return Opened(copy=graded, page=page, last=last)


def _calls(llm) -> list:
    return [request for request in llm.requests if TASK in request.text]


def _draft_ask(opened: Opened, llm, *, wait_for_page: bool = True) -> None:
    """« Rédiger avec l'IA » clicked, until the call is held at the scripted server. Without
    `wait_for_page`, the click does not wait for the page the draft's answer would bring."""
    opened.form.get_by_role("button", name="Rédiger avec l'IA").click(no_wait_after=not wait_for_page)
    wait_until(lambda: len(_calls(llm)) == 1, base=30, what="the appréciation call at the scripted server")


def test_the_teachers_text_saved_while_the_draft_runs_is_kept_and_the_draft_offered(
    opened, held, llm, page, screenshot
):
    copy, form, text = opened.copy, opened.form, opened.text

    # Where she will click while the page waits (Playwright's locators would wait for the draft's
    # page; her mouse and keyboard do not).
    field, save = _centre(text), _centre(form.get_by_role("button", name="Enregistrer"))

    # The draft asked for (its page does not come while the call is held at the model).
    _draft_ask(opened, llm, wait_for_page=False)

    # Meanwhile the teacher types her own appréciation and saves it.
    page.mouse.click(*field)
    page.keyboard.type(MINE)
    page.mouse.click(*save)  # its page replaces the draft's, which the browser abandons
    expect(page.get_by_text("Appréciation enregistrée.")).to_be_visible(timeout=scaled_ms(30))
    expect(page.locator("#appreciation-text")).to_have_value(MINE)
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai) == (MINE, "")
    screenshot(page, "saved while the draft runs")

    # The model answers: its draft comes back to a copy whose text changed meanwhile.
    held.release.set()
    wait_until(
        lambda: Copy.objects.filter(pk=copy.pk, appreciation_ai=DRAFT).exists(),
        base=30,
        what="the draft stored on the copy",
    )
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai, copy.appreciation_stale) == (MINE, DRAFT, False)

    # What the teacher sees: her text, and the draft offered beside it, not written over it.
    page.reload()
    expect(page.locator("#appreciation-text")).to_have_value(MINE)
    restore = form.get_by_role("button", name="Rétablir le texte de l'IA")
    expect(restore).to_be_visible()
    screenshot(page, "her text kept, the draft offered")
    with page.expect_navigation():
        restore.click()
    expect(page.locator("#appreciation-text")).to_have_value(DRAFT)  # hers to take, if she wants it

    _metered_once(llm, opened)


def test_the_draft_page_says_that_her_text_saved_in_another_tab_meanwhile_is_kept(
    opened, web, held, llm, page, screenshot
):
    copy = opened.copy
    other = page.context.new_page()
    other.goto(f"{web.url}/copies/{copy.pk}/")

    # The draft asked for in the first tab; its block comes once the model has answered.
    _draft_ask(opened, llm)
    # Meanwhile, in the other tab, she writes and saves her own.
    other.locator("#appreciation-text").fill(MINE)
    with other.expect_navigation():
        other.locator("#appreciation").get_by_role("button", name="Enregistrer").click()
    expect(other.locator("#appreciation-text")).to_have_value(MINE)
    held.release.set()

    expect(page.get_by_text(KEPT)).to_be_visible(timeout=scaled_ms(30))
    expect(page.get_by_text("Appréciation rédigée par le modèle")).to_have_count(0)
    expect(page.get_by_text(KEPT_TYPED)).to_be_hidden()  # nothing typed in this tab
    expect(page.locator("#appreciation-text")).to_have_value(MINE)
    expect(page.locator("#appreciation").get_by_role("button", name="Rétablir le texte de l'IA")).to_be_visible()
    screenshot(page, "the draft page keeps her text")
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai, copy.appreciation_stale) == (MINE, DRAFT, False)
    _metered_once(llm, opened)


def test_her_unsaved_text_typed_while_the_draft_runs_stays_in_the_field_and_the_draft_is_offered(
    opened, held, llm, page, screenshot
):
    copy, form, text = opened.copy, opened.form, opened.text
    _draft_ask(opened, llm)
    expect(form.get_by_text("Rédaction en cours…")).to_be_visible()
    # The page stays while the model writes: she types her own, without saving it.
    text.click()
    page.keyboard.type(MINE)
    screenshot(page, "typing while the model writes")

    held.release.set()
    expect(page.get_by_text(DRAFTED)).to_be_visible(timeout=scaled_ms(30))
    expect(page.get_by_text(KEPT_TYPED)).to_be_visible()
    expect(form.get_by_text("Rédaction en cours…")).to_be_hidden()
    expect(text).to_have_value(MINE)
    # The draft was saved as the copy's text (she asked for it); hers is in the field, unsaved.
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai, copy.appreciation_stale) == (DRAFT, DRAFT, False)
    restore = form.get_by_role("button", name="Rétablir le texte de l'IA")
    expect(restore).to_be_visible()
    # Her caret is where it was: she goes on typing.
    page.keyboard.type(" Bon courage.")
    expect(text).to_have_value(f"{MINE} Bon courage.")
    screenshot(page, "her text kept in the field, the draft offered")

    # She saves hers: the draft stays offered beside it, and she can still take it.
    with page.expect_navigation():
        form.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Appréciation enregistrée.")).to_be_visible()
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai) == (f"{MINE} Bon courage.", DRAFT)
    with page.expect_navigation():
        restore.click()
    expect(text).to_have_value(DRAFT)

    _metered_once(llm, opened)


def test_without_typing_the_draft_fills_the_field_without_leaving_the_page(opened, held, llm, page):
    copy, form = opened.copy, opened.form
    page.evaluate("window.stayed = true")  # gone if the page were loaded again
    _draft_ask(opened, llm)
    held.release.set()

    expect(page.get_by_text(DRAFTED)).to_be_visible(timeout=scaled_ms(30))
    expect(page.locator("#appreciation-text")).to_have_value(DRAFT)
    expect(page.get_by_text(KEPT_TYPED)).to_be_hidden()
    expect(form.get_by_role("button", name="Rétablir le texte de l'IA")).to_be_hidden()
    expect(form.get_by_role("button", name="Rédiger à nouveau avec l'IA")).to_be_enabled()
    assert page.evaluate("window.stayed") is True
    copy.refresh_from_db()
    assert (copy.appreciation, copy.appreciation_ai) == (DRAFT, DRAFT)
    _metered_once(llm, opened)


def _metered_once(llm, opened: Opened) -> None:
    """One call: at the server and in the ledger, phase « appreciation », on this copy; and no
    error in the page's console."""
    calls = _calls(llm)
    assert len(calls) == 1 and len(llm.requests) == 1
    records = UsageRecord.objects.filter(pk__gt=opened.last)
    assert list(records.values_list("phase", "copy_id")) == [("appreciation", opened.copy.pk)]
    assert records.get().prompt_tokens == calls[0].usage["prompt_tokens"]
    assert opened.page.console_errors == []
