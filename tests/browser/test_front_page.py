"""An anonymous visitor's first pages in Chromium, at a laptop's and a phone's width: the front
page, the privacy page and the legal notice, checked by axe-core (no serious or critical
violation), without horizontal scrolling, and saved as screenshots under test-artifacts/."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WIDTHS = {"laptop": (1366, 768), "phone": (390, 844)}
PAGES = {"front page": "/", "privacy": "/confidentialite/", "legal notice": "/mentions-legales/"}
BLOCKING = {"serious", "critical"}


def _blocking_violations(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


def _overflow(page) -> int:
    """Pixels the page is wider than the window (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_public_pages_pass_axe_at_laptop_and_phone_widths(asgi_server, page, screenshot):
    problems: dict[str, list[str]] = {}
    for size, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path in PAGES.items():
            page.goto(f"{asgi_server.url}{path}")
            screenshot(page, f"{name} {size}")
            found = _blocking_violations(page)
            if _overflow(page) > 0:
                found.append(f"scrolls sideways by {_overflow(page)} px")
            if found:
                problems[f"{name} at {width} px"] = found
    assert problems == {}
    assert page.console_errors == []


def test_the_front_page_leads_to_the_demo_and_speaks_english(asgi_server, page, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{asgi_server.url}/")
    assert page.locator("html").get_attribute("lang") == "fr"

    page.get_by_role("link", name="Essayer la démo").first.click()
    demo = page.locator("#demo")
    assert demo.is_visible()
    with page.expect_navigation():
        demo.get_by_role("link", name="Créer un compte").click()
    assert page.url.endswith("/accounts/signup/")

    page.goto(f"{asgi_server.url}/")
    with page.expect_navigation():
        page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", name="In three steps").is_visible()
    assert page.title().endswith("· Corrigo") and "Grading" in page.title()
    screenshot(page, "front page en phone")
    assert _blocking_violations(page) == []
    assert page.console_errors == []
