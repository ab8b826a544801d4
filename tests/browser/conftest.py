"""Playwright driving Debian's Chromium: one browser per test module.

Playwright's own browser download cannot work here; it launches /usr/bin/chromium.
Screenshots go to test-artifacts/screenshots/<module>/ (git-ignored).
Copies graded inline (`eager_tasks`) through a scripted LLM server of the test's own (`llm`),
and a teacher logged in through the login page (`log_in`).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import PASSWORD
from tests.support.deadlines import scaled_ms

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is missing: apt-get install -y chromium (make test and .ci/run install it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (cookies, storage) per test; console errors are collected."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    # Playwright's default (30 s for every wait) scaled to the machine's measured speed.
    context.set_default_timeout(scaled_ms(30))
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    yield page
    context.close()


@pytest.fixture
def screenshot(request):
    folder = ARTIFACTS / request.module.__name__.rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    counter = {"n": 0}

    def take(page, name: str) -> Path:
        counter["n"] += 1
        safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
        path = folder / f"{request.node.name}-{counter['n']:02d}-{safe}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def llm(settings):
    """A scripted LLM server of this test's own; every role points at it."""
    from tests.grading.conftest import roles_settings
    from tests.support.llm_server import LLMServer

    server = LLMServer().start()
    settings.CORRIGO_DEMO_MODE = False
    settings.CORRIGO_LLM = roles_settings(server)
    yield server
    server.stop()


@pytest.fixture
def eager_tasks():
    """Tasks run inline: a job's copies are graded before job_start returns."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def login(page, base_url: str, user) -> None:
    """Logs `user` in on `page` through the login page of the server at `base_url`."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()


@pytest.fixture
def log_in(asgi_server):
    """Logs `user` in on `page` through the login page."""
    return lambda page, user: login(page, asgi_server.url, user)


@pytest.fixture
def double_corrected(llm, eager_tasks):
    """A copy double-corrected through the engine and the scripted server
    (tests/grading/double_correction.py, step 0,5): Q1 /4 A 3, B 3,25 (grade 3); Q2 /6 disputed,
    A 3, B 4,5 after verification (grade 4, the mean)."""
    from decimal import Decimal

    from grading import services
    from grading.models import Copy
    from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
    from tests.grading.double_correction import script_two_graders

    teacher = UserFactory(email="prof.roux@college.example")
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2, title="Triangles", rounding_step=Decimal("0.5"))
    copy = copy_with_pages(exam, pages=1, label="Lefèvre Chloé")
    script_two_graders(llm)
    services.job_start(exam=exam, user=teacher)  # the copy task runs inline, through the scripted server
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE
    return copy


def cell_saved(cell, value: str) -> None:
    """Waits until a grid or copy-page grade input says `value` was saved."""
    cell.page.wait_for_function(
        "([el, value]) => el.getAttribute('data-saved') === value && el.getAttribute('data-state') === 'saved'",
        arg=[cell.element_handle(), value],
    )
