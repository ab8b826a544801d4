"""The review's keys in Debian's Chromium, on copies graded through the scripted server.

A copy double-corrected (tests/grading/double_correction.py, step 0,5): Q1 /4 A 3, B 3,25
(grade 3); Q2 /6 disputed, A 3, B 4,5 after verification (grade 4, the mean). In the grid,
b, a and m take grader B's points, A's or their mean; each pick is audited like a typed grade.
Grade by question: j / k between answers, x ticks one, the ticked ones marked reviewed, and
one grade for a group of identical answers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grading import services
from grading.models import Copy, GradeEdit
from tests.browser.conftest import cell_saved
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def double(double_corrected):
    return double_corrected


def test_keys_b_a_and_m_pick_a_grader_in_the_grid(double, asgi_server, page, screenshot, log_in):
    log_in(page, double.exam.owner)
    page.goto(f"{asgi_server.url}/exams/{double.exam_id}/review/")
    assert "m leur moyenne" in page.locator("#grid-help").inner_text()
    q1 = page.locator('.grade-input[data-row="0"][data-col="0"]')
    q2 = page.locator('.grade-input[data-row="0"][data-col="1"]')
    total = page.locator("td.total").first
    assert (q1.input_value(), q2.input_value(), total.inner_text()) == ("3", "4", "7")

    q2.focus()
    page.keyboard.press("b")
    cell_saved(q2, "4,5")
    assert (q2.input_value(), total.inner_text()) == ("4,5", "7,5")
    assert "edited" in q2.locator("xpath=ancestor::td").get_attribute("class")

    page.keyboard.press("a")
    cell_saved(q2, "3")
    assert total.inner_text() == "6"
    page.keyboard.press("m")
    cell_saved(q2, "4")
    assert total.inner_text() == "7"
    assert "edited" not in q2.locator("xpath=ancestor::td").get_attribute("class")

    # Ctrl+A still selects the cell's text; typing a grade still works.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("document.activeElement.dataset.col") == "0"
    page.keyboard.press("Control+a")
    page.keyboard.type("2,5")
    page.keyboard.press("Enter")
    cell_saved(q1, "2,5")
    assert total.inner_text() == "6,5"
    path = screenshot(page, "grid after picks")
    assert path.stat().st_size > 5_000

    page.reload()
    assert page.locator(".grade-input").evaluate_all("els => els.map(e => e.value)") == ["2,5", "4"]
    edits = list(GradeEdit.objects.order_by("id").values_list("grade__question__order", "before", "after"))
    assert edits == [(1, "4.00", "4.50"), (1, "4.50", "3.00"), (1, "3.00", "4.00"), (0, "3.00", "2.5")]
    assert page.console_errors == []


def test_the_copy_page_buttons_take_a_grader_and_outline_it(double, asgi_server, page, log_in):
    log_in(page, double.exam.owner)
    page.goto(f"{asgi_server.url}/copies/{double.pk}/")
    second = page.locator("article.answer").nth(1)
    with page.expect_navigation():
        second.get_by_test_id("pick-b").click()
    second = page.locator("article.answer").nth(1)
    assert "Note du correcteur B retenue : 4,5." in page.locator(".messages").inner_text()
    assert "picked" in second.get_by_test_id("side-b").get_attribute("class")
    assert "picked" not in second.get_by_test_id("side-a").get_attribute("class")
    assert second.locator(".grade-input").input_value() == "4,5"  # as the message writes it
    assert page.console_errors == []


@pytest.fixture
def class_graded(llm, eager_tasks):
    """Single correction, Q1 /4: Léa and Hugo wrote the same answer (written differently), Zoé another."""
    teacher = UserFactory(email="prof.blanc@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Équations", rounding_step=Decimal("0.5"))
    for name, reading, points in (
        ("Abadie Léa", "x = 3,0", 3),
        ("Bernard Hugo", "X=3", 2.5),
        ("Caron Zoé", "x = 5", 1),
    ):
        copy_with_pages(exam, pages=1, label=name, text=f"copie de {name}")
        llm.script(grades_json([points, 2], readings=[reading, f"{name} à Q2"]), match=f"copie de {name}")
    services.job_start(exam=exam, user=teacher)
    assert not exam.copies.exclude(status=Copy.Status.DONE).exists()
    return exam


def test_grade_by_question_with_the_keyboard_then_a_group(class_graded, asgi_server, page, screenshot, log_in):
    exam = class_graded
    question = exam.questions.get(order=0)
    log_in(page, exam.owner)
    page.goto(f"{asgi_server.url}/exams/{exam.pk}/review/")
    with page.expect_navigation():
        page.locator("table[data-review-grid] thead a", has_text="Q1").click()
    assert page.url.endswith(f"/exams/{exam.pk}/review/questions/{question.pk}/")
    assert "j ou ↓ réponse suivante" in page.get_by_test_id("keys-help").inner_text()
    inputs = page.locator(".grade-input")
    checks = page.locator(".review-check")

    page.keyboard.press("j")  # from nowhere: the first answer
    assert page.evaluate("document.activeElement.dataset.row") == "0"
    page.keyboard.type("2")
    page.keyboard.press("Enter")  # saved, and on to the next answer
    cell_saved(inputs.nth(0), "2")
    assert page.evaluate("document.activeElement.dataset.row") == "1"
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.dataset.row") == "0"
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.row") == "2"
    assert [checks.nth(i).is_checked() for i in range(3)] == [True, True, False]
    with page.expect_navigation():
        page.get_by_role("button", name="Marquer la sélection comme revue").click()
    assert "2 réponses marquées comme revues." in page.locator(".messages").inner_text()
    assert "2 réponses revues sur 3" in page.get_by_test_id("reviewed-count").inner_text()

    # Léa's "x = 3,0" and Hugo's "X=3" are one group: one grade for both.
    group = page.get_by_test_id("group")
    assert group.count() == 1 and "Abadie Léa, Bernard Hugo" in group.inner_text()
    group.locator("input[name=points]").fill("3,5")
    with page.expect_navigation():
        group.get_by_role("button").click()
    assert "Note du groupe enregistrée : 2 réponses modifiées." in page.locator(".messages").inner_text()
    assert inputs.evaluate_all("els => els.map(e => e.value)") == ["3,5", "3,5", "1"]
    path = screenshot(page, "grade by question")
    assert path.stat().st_size > 10_000
    assert page.console_errors == []


def test_after_enter_one_arrow_press_moves_to_the_next_cell(llm, eager_tasks, asgi_server, page, log_in):
    teacher = UserFactory(email="prof.fleches@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Fractions")
    for label in ("Léa", "Hugo"):
        copy_with_pages(exam, pages=1, label=label)
    llm.script(grades_json([1, 2]), times=2)
    services.job_start(exam=exam, user=teacher)
    log_in(page, teacher)
    page.goto(f"{asgi_server.url}/exams/{exam.pk}/review/")

    first = page.locator('.grade-input[data-row="0"][data-col="0"]')
    first.focus()
    page.keyboard.press("Control+a")
    page.keyboard.type("3")
    page.keyboard.press("Enter")  # saved, and down to the next copy's cell, its text selected
    cell_saved(first, "3")
    assert page.evaluate("[document.activeElement.dataset.row, document.activeElement.dataset.col]") == ["1", "0"]
    page.keyboard.press("ArrowRight")
    assert page.evaluate("[document.activeElement.dataset.row, document.activeElement.dataset.col]") == ["1", "1"]
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("[document.activeElement.dataset.row, document.activeElement.dataset.col]") == ["1", "0"]
    assert page.console_errors == []
