"""The copy page of a double-corrected copy in Debian's Chromium: the "both models" panel shows
each grader's points, reading and reasoning, for the copy graded through the scripted server."""

from __future__ import annotations

import pytest

from grading import services
from grading.models import Copy
from tests.factories import PASSWORD, UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_settings
from tests.grading.double_correction import READINGS, REASONINGS, VERIFIED, script_two_graders
from tests.support.llm_server import LLMServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def llm(settings):
    server = LLMServer().start()
    settings.CORRIGO_DEMO_MODE = False
    settings.CORRIGO_LLM = roles_settings(server)
    yield server
    server.stop()


@pytest.fixture
def eager_tasks():
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_the_both_models_panel_shows_each_graders_answer(llm, eager_tasks, asgi_server, page, screenshot):
    teacher = UserFactory(email="prof.durand@college.example")
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2, title="Géométrie — triangles")
    copy = copy_with_pages(exam, pages=1, label="Lefèvre Chloé")
    script_two_graders(llm)
    services.job_start(exam=exam, user=teacher)  # the copy task runs inline, through the scripted server
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE

    page.goto(f"{asgi_server.url}/accounts/login/")
    page.fill("input[name=login]", teacher.email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")
    for summary in page.locator("summary", has_text="Réponses des deux modèles").all():
        summary.click()

    first, second = page.locator("article.answer").nth(0), page.locator("article.answer").nth(1)
    a, b = first.locator("tr.opinion-a"), first.locator("tr.opinion-b")
    assert a.is_visible() and b.is_visible()
    assert a.locator("td").nth(1).inner_text() == "3" and b.locator("td").nth(1).inner_text() == "3,25"
    assert READINGS["a"][0] in a.inner_text() and REASONINGS["b"][0] in b.inner_text()
    verified = second.locator("tr.opinion-b", has_text="Vérification")
    assert verified.locator("td").nth(1).inner_text() == "4,5" and VERIFIED["b"][2] in verified.inner_text()
    path = screenshot(page, "both models panel")
    assert path.stat().st_size > 10_000
    assert page.console_errors == []
