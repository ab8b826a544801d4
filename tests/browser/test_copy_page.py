"""The copy page of a double-corrected copy in Debian's Chromium: both graders side by side,
each one's points, reading and reasoning and what the verification round did, for the copy
graded through the scripted server."""

from __future__ import annotations

import pytest

from grading import services
from grading.models import Copy
from tests.browser.conftest import cell_saved
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.double_correction import READINGS, REASONINGS, VERIFIED, script_two_graders
from tests.grading.helpers import grades_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_both_graders_show_side_by_side(llm, eager_tasks, asgi_server, page, screenshot, log_in):
    teacher = UserFactory(email="prof.durand@college.example")
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2, title="Géométrie — triangles")
    copy = copy_with_pages(exam, pages=1, label="Lefèvre Chloé")
    script_two_graders(llm)
    services.job_start(exam=exam, user=teacher)  # the copy task runs inline, through the scripted server
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE

    log_in(page, teacher)
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")

    first, second = page.locator("article.answer").nth(0), page.locator("article.answer").nth(1)
    a, b = first.get_by_test_id("side-a"), first.get_by_test_id("side-b")
    assert a.is_visible() and b.is_visible()
    # Side by side: B's column starts to the right of A's, on the same line.
    box_a, box_b = a.bounding_box(), b.bounding_box()
    assert box_b["x"] >= box_a["x"] + box_a["width"] and abs(box_b["y"] - box_a["y"]) < 1
    assert a.get_by_test_id("round-points").inner_text() == "3"
    assert b.get_by_test_id("round-points").inner_text() == "3,25"
    assert READINGS["a"][0] in a.inner_text() and REASONINGS["b"][0] in b.inner_text()
    verified = second.get_by_test_id("side-b").get_by_test_id("side-verified")
    assert verified.get_by_test_id("round-points").inner_text() == "4,5"
    assert VERIFIED["b"][2] in verified.inner_text()
    assert "toujours en désaccord après la vérification" in second.get_by_test_id("double-outcome").inner_text()
    path = screenshot(page, "both graders side by side")
    assert path.stat().st_size > 10_000
    assert page.console_errors == []


def test_the_copy_page_fits_a_phone_with_its_pages_full_width_and_zoomable(
    llm, eager_tasks, asgi_server, page, screenshot, log_in
):
    teacher = UserFactory(email="prof.roux@college.example")
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2, title="Géométrie — triangles")
    copy = copy_with_pages(exam, pages=2, label="Lefèvre Chloé")
    script_two_graders(llm)
    services.job_start(exam=exam, user=teacher)

    log_in(page, teacher)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")
    screenshot(page, "copy page 390")

    wider = page.evaluate(
        "Array.from(document.querySelectorAll('main *'))"
        ".filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
        ".map(e => e.tagName + '.' + e.className).slice(0, 5)"
    )
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, wider
    # The pages take the screen's width, in the page's own flow (no half-height scrolling box)...
    pages = page.locator(".copy-pages")
    assert page.evaluate("getComputedStyle(document.querySelector('.copy-pages')).overflowY") == "visible"
    image = pages.locator("img").first
    assert image.bounding_box()["width"] >= 300
    # ...and each opens at full size, to zoom into.
    link = pages.get_by_role("link", name="Agrandir la page 1")
    assert link.get_attribute("href") == f"/copies/{copy.pk}/pages/1/"


def test_an_edited_grade_keeps_its_maximum_beside_it_and_the_engines_below(
    llm, eager_tasks, asgi_server, page, screenshot, log_in
):
    """« 1,5 / 4 » on one line, « IA 3 ↺ » under it: the engine's points once shown (a block)
    used to push the maximum onto a line of its own, under them."""
    teacher = UserFactory(email="prof.martin@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Fractions")
    copy = copy_with_pages(exam, pages=1, label="Abadie Léa", text="copie de Léa")
    llm.script(grades_json([3, 5]), match="copie de Léa")
    services.job_start(exam=exam, user=teacher)

    log_in(page, teacher)
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")
    first = page.locator("article.answer").first
    cell = first.locator(".grade-input")
    cell.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("1,5")
    page.keyboard.press("Enter")
    cell_saved(cell, "1,5")

    for shown in ("after the edit", "as the page brings it"):
        field, maximum = cell.bounding_box(), first.get_by_test_id("grade-max").bounding_box()
        engine = first.locator(".ai-points").bounding_box()
        assert first.get_by_test_id("grade-max").inner_text() == "/ 4", shown
        # Beside the field (to its right, within its height), the engine's points under both.
        assert maximum["x"] >= field["x"] + field["width"], shown
        assert field["y"] <= maximum["y"] + maximum["height"] / 2 <= field["y"] + field["height"], shown
        assert engine["y"] >= field["y"] + field["height"] - 1, shown
        assert "IA 3" in first.locator(".ai-points").inner_text(), shown
        page.reload()
    screenshot(page, "edited grade with its maximum")
    assert page.console_errors == []
