"""The barème proposed from the subject, in Debian's Chromium (issue 17): the teacher sends the
subject from the exam page, a worker reads it (the scripted server answers) and renders its pages;
the proposal shows the subject's pages beside its rows at 1366 px, above them at 390 px with
nothing wider than the screen."""

from __future__ import annotations

import pytest

from grading import services
from tests.browser.conftest import login
from tests.factories import UserFactory
from tests.grading.conftest import roles_env
from tests.support.deadlines import scaled_ms
from tests.support.llm_server import LLMServer
from tests.support.pdfs import text_pdf
from tests.support.servers import celery_worker_start, daphne_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SUBJECT = ["Exercice 1 (4 points) : calculer 3 x 7.", "Exercice 2 (6 points) : un probleme.", "Exercice 3 (10 points)"]


@pytest.fixture
def web(transactional_db, tmp_path, settings):
    """daphne and a Celery worker on both queues (the reading, the pages), pointed at the scripted
    server, sharing this test's cache, where the subject's pages are."""
    llm = LLMServer().start()
    env = roles_env(llm) | {"CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"]}
    server = daphne_start(tmp_path, **env)
    worker = celery_worker_start(tmp_path, name="bareme", concurrency=2, **env)
    yield server
    worker.stop()
    server.stop()
    llm.stop()


# Functions, not expressions: Playwright eval()s a string expression, which the CSP forbids.
LOADED = (
    "() => { const imgs = [...document.querySelectorAll('.subject-page-list img')];"
    " return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0); }"
)
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _pages_shown(page) -> list[int]:
    """The subject's pages the browser loaded (real portrait JPEGs, not the placeholder)."""
    return page.locator(".subject-page-list img").evaluate_all(
        "imgs => imgs.filter(i => i.complete && i.naturalHeight > i.naturalWidth && i.naturalWidth > 500)"
        ".map(i => Number(i.dataset.page))"
    )


def test_the_teacher_checks_the_proposed_rows_against_the_subjects_pages(web, tmp_path, page, screenshot):
    teacher = UserFactory(email="prof.girard@college.example")
    exam = services.exam_create(owner=teacher, title="Contrôle de calcul")
    subject = tmp_path / "sujet.pdf"
    subject.write_bytes(text_pdf(SUBJECT))

    page.set_viewport_size({"width": 1366, "height": 900})
    login(page, web.url, teacher)
    page.goto(f"{web.url}/exams/{exam.pk}/")
    page.locator(".bareme-extract summary").click()
    page.set_input_files("#subject-file", str(subject))
    with page.expect_navigation():
        page.get_by_role("button", name="Proposer un barème").click()
    # The wait page polls the reading's status and reloads itself once the proposal is ready.
    rows = page.locator(".bareme-list .question-row")
    rows.first.wait_for(timeout=scaled_ms(90))
    page.wait_for_function(LOADED, timeout=scaled_ms(60))
    assert _pages_shown(page) == [1, 2, 3]
    assert page.get_by_alt_text("Sujet, page 1").is_visible()

    # Side by side: the subject's column left of the rows, level with them, its pages readable.
    column = page.get_by_test_id("subject-column").bounding_box()
    form = page.locator("form.card", has=rows.first).bounding_box()
    first_page = page.get_by_alt_text("Sujet, page 1").bounding_box()
    assert column and form and first_page
    assert column["x"] + column["width"] <= form["x"]
    assert column["y"] < form["y"] + form["height"] and form["y"] < column["y"] + column["height"]
    assert first_page["width"] >= 400
    assert page.evaluate(OVERFLOW) <= 0
    screenshot(page, "side by side at 1366px")

    # The rows scroll under; the subject's column stays in view.
    page.evaluate("() => window.scrollTo(0, 300)")
    page.wait_for_function("() => window.scrollY >= 300", timeout=scaled_ms(5))
    column = page.get_by_test_id("subject-column").bounding_box()
    form = page.locator("form.card", has=rows.first).bounding_box()
    assert column and form and form["y"] < 0 <= column["y"]

    # A phone: the subject above the rows, no page wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.evaluate("() => window.scrollTo(0, 0)")
    column = page.get_by_test_id("subject-column").bounding_box()
    first_row = rows.first.bounding_box()
    assert column and first_row
    assert column["y"] + column["height"] <= first_row["y"]
    assert page.evaluate(OVERFLOW) <= 0
    assert page.get_by_alt_text("Sujet, page 1").is_visible()
    screenshot(page, "stacked at 390px")

    # The subject folds away, the rows stay.
    page.locator(".subject-details summary").click()
    assert not page.get_by_alt_text("Sujet, page 1").is_visible()
    assert rows.first.is_visible()
    assert page.console_errors == []
