"""A new teacher in a real browser: sign up, verify the address, land on the dashboard,
switch the interface to English. Runs against daphne like production."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.factories import PASSWORD
from tests.support.deadlines import Deadline

pytestmark = pytest.mark.django_db(transaction=True)


def _confirmation_link(mail_dir: Path, timeout: float = 10) -> str:
    deadline = Deadline(timeout)
    while not deadline.expired():
        for message in sorted(mail_dir.glob("*.log")):
            match = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.read_text())
            if match:
                return match.group(0)
        time.sleep(0.1)
    raise AssertionError(f"no confirmation email was sent after {deadline}")


def test_a_teacher_signs_up_verifies_lands_on_dashboard_and_switches_language(asgi_server, page, screenshot):
    page.goto(f"{asgi_server.url}/accounts/signup/")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.fill("input[name=email]", "claire.dupont@lycee.example")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    screenshot(page, "signup form")
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/accounts/confirm-email/" in page.url
    screenshot(page, "verification sent")

    page.goto(_confirmation_link(asgi_server.extra["mail_dir"]))
    screenshot(page, "confirm address")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{asgi_server.url}/")
    assert page.get_by_role("heading", name="Mes corrections").is_visible()
    screenshot(page, "dashboard fr")

    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.get_by_role("heading", name="My grading").is_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    screenshot(page, "dashboard en")

    # The CSP forbids inline scripts: nothing on these pages may have been blocked.
    assert page.console_errors == []
