"""The engine's comment beside points the teacher changes is flagged « à revoir » as soon as the
points are saved, in Debian's Chromium, without a reload: on the copy page (the warning with its
« Garder le commentaire » button, gone again when the engine's points are restored) and in the
review grid (the cell's badge and the page's count). The copy is double-corrected through the
engine and the scripted server (tests/grading/double_correction.py): Q1 /4 graded 3, Q2 /6 graded 4."""

from __future__ import annotations

import pytest

from tests.browser.conftest import cell_saved

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

STALE = "Les points ont changé : ce commentaire de l'IA ne les reflète peut-être plus."


def _mark_page(page) -> None:
    """A value that lives as long as the page: gone if anything reloads it."""
    page.evaluate("window.notReloaded = true")


def _not_reloaded(page) -> bool:
    return page.evaluate("window.notReloaded === true")


def test_the_copy_page_flags_the_comment_when_the_points_change(double_corrected, asgi_server, page, log_in):
    copy = double_corrected
    log_in(page, copy.exam.owner)
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")
    first = page.locator("article.answer").nth(0)
    assert first.get_by_test_id("feedback-stale").count() == 0
    _mark_page(page)

    cell = first.locator(".grade-input")
    cell.fill("1,5")
    cell.press("Enter")
    cell_saved(cell, "1,5")
    warning = first.get_by_test_id("feedback-stale")
    warning.wait_for()
    assert STALE in warning.inner_text() and _not_reloaded(page)
    assert page.locator("article.answer").nth(1).get_by_test_id("feedback-stale").count() == 0  # only Q1

    # Back to the engine's points: its comment agrees with them again, the warning goes.
    first.locator("[data-restore-form] button").click()
    cell_saved(cell, "3")
    warning.wait_for(state="detached")
    assert _not_reloaded(page)

    # Changed again, then kept in one click: the button the live warning brought works.
    cell.fill("2")
    cell.press("Enter")
    cell_saved(cell, "2")
    with page.expect_navigation():
        first.get_by_test_id("feedback-stale").get_by_role("button", name="Garder le commentaire").click()
    assert "Commentaire de l'IA gardé" in page.locator(".messages").inner_text()
    assert page.locator("article.answer").nth(0).get_by_test_id("feedback-stale").count() == 0
    assert page.console_errors == []


def test_the_grid_flags_the_cell_and_counts_it_when_the_points_change(
    double_corrected, asgi_server, page, screenshot, log_in
):
    copy = double_corrected
    log_in(page, copy.exam.owner)
    page.goto(f"{asgi_server.url}/exams/{copy.exam_id}/review/")
    assert page.get_by_test_id("feedback-stale").count() == 0
    assert page.get_by_test_id("stale-feedback-count").count() == 0
    _mark_page(page)

    q1 = page.locator('.grade-input[data-row="0"][data-col="0"]')
    q1.fill("2")
    q1.press("Tab")
    cell_saved(q1, "2")
    badge = page.locator("td", has=q1).get_by_test_id("feedback-stale")
    badge.wait_for()
    assert badge.get_attribute("href").endswith(f"/copies/{copy.pk}/#question-{copy.exam.questions.get(order=0).pk}")
    assert page.get_by_test_id("feedback-stale").count() == 1  # that cell only
    count = page.get_by_test_id("stale-feedback-count")
    count.wait_for()  # with the statistics' refresh, out of band
    assert "1 commentaire de l'IA à revoir" in count.inner_text() and _not_reloaded(page)
    screenshot(page, "grid flags the comment without a reload")

    q1.focus()
    page.locator("td", has=q1).locator("[data-restore-form] button").click()
    cell_saved(q1, "3")
    badge.wait_for(state="detached")
    count.wait_for(state="detached")
    assert _not_reloaded(page) and page.console_errors == []
