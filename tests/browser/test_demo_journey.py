"""Issue 17's « done when »: an anonymous visitor, in Chromium, goes from the front page to the
review grid of the demonstration class — sign up, confirm the address, « Classe de
démonstration », launch grading, follow it live, review — against daphne, a Celery worker and
demo mode's server (no provider configured). axe-core reports no serious or critical violation on
any page at 1366 px, nor on the exam page and the grid at 390 px; screenshots under
test-artifacts/screenshots/test_demo_journey/."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings

from grading.models import Copy, Exam, Grade
from tests.factories import PASSWORD
from tests.support.deadlines import scaled, scaled_ms, wait_until
from tests.support.llm_server import LLMServer
from tests.support.servers import celery_worker_start, daphne_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LAPTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
BLOCKING = {"serious", "critical"}


@pytest.fixture
def demo_stack(transactional_db, tmp_path):
    """daphne and a worker in demo mode, as `make run` starts them without a provider: every
    role answered by the demo server; mail written to files (the confirmation link)."""
    llm = LLMServer().start()
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    env = {
        "CORRIGO_DEMO_MODE": "true",
        "CORRIGO_DEMO_LLM_URL": llm.url,
        # A worker on a loaded machine may take longer than usual to read an answer sent at once.
        "CORRIGO_LLM_TIMEOUT": f"{scaled(5):.1f}",
        "CORRIGO_RETRY_BASE_S": "0.05",
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "CACHE_KEY_PREFIX": f"{settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}",
    }
    web = daphne_start(tmp_path, **env)
    worker = celery_worker_start(tmp_path, **env)
    web.extra["mail_dir"] = mail_dir
    yield web
    worker.stop()
    web.stop()
    llm.stop()


def _blocking(page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']][:5]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING
    ]


def _confirmation_link(mail_dir: Path) -> str:
    def link() -> str | None:
        for message in sorted(mail_dir.glob("*.log")):
            found = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.read_text())
            if found:
                return found.group(0)
        return None

    wait_until(lambda: link() is not None, base=30, what="the confirmation email", interval=0.2)
    return link() or ""


def _step_state(page, key: str) -> str:
    return page.get_by_test_id(f"step-{key}").get_attribute("data-state") or ""


def test_a_visitor_goes_from_the_front_page_to_the_demo_class_review_grid(demo_stack, page, screenshot):
    base = demo_stack.url
    problems: dict[str, list[str]] = {}

    def check(name: str) -> None:
        screenshot(page, name)
        found = _blocking(page)
        if found:
            problems[name] = found

    # 1. The front page, and its way to the demo.
    page.set_viewport_size(LAPTOP)
    page.goto(f"{base}/")
    check("front page 1366")
    page.get_by_role("link", name="Essayer la démo").first.click()
    with page.expect_navigation():
        page.locator("#demo").get_by_role("link", name="Créer un compte").click()

    # 2. Sign up, confirm the address: signed in on the dashboard.
    check("signup 1366")
    page.fill("input[name=email]", "visiteur@college.example")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    page.goto(_confirmation_link(demo_stack.extra["mail_dir"]))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("heading", name="Mes corrections").is_visible()
    check("dashboard 1366")

    # 3. The demonstration class: a barème and eight copies whose pages a worker renders.
    with page.expect_navigation():
        page.get_by_test_id("demo-class").first.click()
    exam = Exam.objects.get()
    assert exam.questions.count() == 4 and exam.copies.count() == 8
    assert _step_state(page, "bareme") == "done"

    def ready() -> bool:
        page.reload()
        return _step_state(page, "copies") == "done" and _step_state(page, "grading") == "todo"

    wait_until(ready, base=90, what="the demo copies' pages", interval=0.5)
    assert page.get_by_test_id("estimate-copies").inner_text().strip().startswith("8")
    check("demo class ready 1366")

    # 4. Launch grading, followed live (no reload) until the page offers the review.
    with page.expect_navigation():
        page.get_by_test_id("start").click()
    page.locator("#grading-progress", has_text="Correction terminée").wait_for(timeout=scaled_ms(180))
    page.get_by_test_id("start-blocked").wait_for(timeout=scaled_ms(30))
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    assert _step_state(page, "grading") == "done" and _step_state(page, "review") == "todo"
    check("demo class graded 1366")

    # 5. The review grid: real readings of the copies, at a laptop's and a phone's width.
    with page.expect_navigation():
        page.get_by_role("link", name="Revoir les notes").click()
    assert page.locator(".review-grid tbody tr").count() == 8
    assert page.get_by_role("rowheader", name="Léa Martin").count() + page.get_by_text("Léa Martin").count() > 0
    reading = Grade.objects.get(copy__student_label="Léa Martin", question__order=1).reading
    assert "AC² = AB² + BC²" in reading  # read on her copy, not a placeholder
    check("review grid 1366")

    page.set_viewport_size(PHONE)
    page.reload()
    check("review grid 390")
    page.goto(f"{base}/exams/{exam.pk}/")
    check("exam page 390")

    assert problems == {}, "\n".join(f"{name}: {found}" for name, found in problems.items())
    # The CSP forbids inline scripts: nothing on these pages may have been blocked.
    assert page.console_errors == []
