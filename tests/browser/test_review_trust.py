"""Issue 12's browser test in Debian's Chromium: a review a teacher can trust, down to the XLSX.

A copy double-corrected through the engine and the scripted server (tests/grading/double_correction.py,
step 0,5): Q1 /4 graded 3 (A 3, B 3,25); Q2 /6 disputed, A 3 and B 4,5 after verification, graded
4 (their mean). Its appréciation drafted by the grading model (a metered call to the same server).
In the browser the teacher rewrites the appréciation, takes B's 4,5 on Q2 (key b in the grid), then
raises Q2 to 7 points on the exam page and chooses « Mettre à l'échelle »: 4,5 × 7/6 = 5,25, half up
to the step: 5,5. The XLSX downloaded from the review page says exactly that; the engine's comment
on Q2, beside points it did not give, is left out until the teacher keeps it on the copy page."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from grading.models import GradeEdit
from grading.services.appreciation import copy_appreciation_draft
from tests.browser.conftest import cell_saved

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MINE = "Chloé a bien progressé en géométrie ; la réciproque de Pythagore reste à citer."


@pytest.fixture
def double(double_corrected):
    copy = double_corrected
    copy_appreciation_draft(copy=copy, user=copy.exam.owner)  # the grading model's draft, metered
    copy.refresh_from_db()
    assert copy.appreciation and copy.appreciation == copy.appreciation_ai
    return copy


def _xlsx_rows(page) -> list[list]:
    """The review page's XLSX, downloaded as the teacher does, as the rows' values."""
    with page.expect_download() as download_info:
        page.locator(".page-head a.button", has_text="XLSX").click()
    download = download_info.value
    assert download.suggested_filename == "triangles.xlsx"
    sheet = load_workbook(io.BytesIO(download.path().read_bytes())).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_appreciation_pick_b_rescale_then_the_xlsx(double, asgi_server, page, screenshot, log_in):
    copy, exam = double, double.exam
    q2 = exam.questions.get(order=1)
    draft = copy.appreciation
    log_in(page, exam.owner)

    # 1. The general appréciation: the model's draft, rewritten by the teacher.
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")
    text = page.locator("#appreciation-text")
    assert text.input_value() == draft
    text.fill(MINE)
    with page.expect_navigation():
        page.locator("#appreciation button[name=action][value=save]").click()
    assert page.locator("#appreciation-text").input_value() == MINE
    assert page.locator("#appreciation button[value=restore]").is_visible()  # the draft stays restorable

    # 2. Model B on the disagreement: key b in the grid.
    page.goto(f"{asgi_server.url}/exams/{exam.pk}/review/")
    q1_cell = page.locator('.grade-input[data-row="0"][data-col="0"]')
    q2_cell = page.locator('.grade-input[data-row="0"][data-col="1"]')
    total = page.locator("td.total").first
    assert (q1_cell.input_value(), q2_cell.input_value(), total.inner_text()) == ("3", "4", "7")
    q2_cell.focus()
    page.keyboard.press("b")
    cell_saved(q2_cell, "4,5")
    assert total.inner_text() == "7,5"
    screenshot(page, "grid after picking b")

    # 3. Q2 raised from 6 to 7 points after grading: the page asks, the teacher rescales.
    page.goto(f"{asgi_server.url}/exams/{exam.pk}/")
    page.get_by_test_id("bareme-folded").locator("> summary").click()  # folded once copies are graded
    points = page.locator(f"#question-{q2.pk} input[name='q{q2.pk}-max_points']")
    points.fill("7")
    points.dispatch_event("change")  # what leaving the field does: the row is posted (htmx)
    choice = page.get_by_test_id("bareme-choice")
    choice.wait_for()
    assert "« Exercice 2 » : 6 → 7 points." in choice.inner_text()
    screenshot(page, "barème change asks what to do")
    choice.locator("button[name=on_grades][value=rescale]").click()
    choice.wait_for(state="detached")
    assert page.get_by_test_id("bareme-total").inner_text() == "Total : 11 points"

    # 4. The grid agrees: 4,5/6 → 5,25/7 → 5,5 (half up to the step), total 3 + 5,5.
    page.goto(f"{asgi_server.url}/exams/{exam.pk}/review/")
    assert (q1_cell.input_value(), q2_cell.input_value(), total.inner_text()) == ("3", "5,5", "8,5")
    path = screenshot(page, "grid after rescale")
    assert path.stat().st_size > 5_000

    # B's points are not the engine's: its comment on Q2 waits for the teacher, out of the exports.
    assert "1 commentaire de l'IA à revoir" in page.get_by_test_id("stale-feedback-count").inner_text()

    # 5. The XLSX, downloaded as the teacher does, cell by cell.
    feedbacks = [grade.feedback for grade in copy.grades.order_by("question__order")]
    rows = _xlsx_rows(page)
    assert len(rows) == 2
    assert rows[0][:5] == ["Élève", "Q1 Exercice 1 (/4)", "Q2 Exercice 2 (/7)", "Total (/11)", "Note /20"]
    name, p1, p2, total_points, on_twenty, appreciation = rows[1]
    assert (name, p1, p2) == ("Lefèvre Chloé", 3, 5.5)
    assert total_points == 8.5 == p1 + p2  # the sum of the points shown
    assert on_twenty == 15.45  # 8,5 × 20 / 11 = 15,4545…
    # The teacher's appréciation, then the questions' feedback but Q2's, still to review.
    assert appreciation == "\n".join([MINE, f"Q1 : {feedbacks[0]}"])
    assert draft not in appreciation

    # 6. On the copy page, one click keeps the engine's comment on Q2: exported again.
    page.goto(f"{asgi_server.url}/copies/{copy.pk}/")
    stale = page.locator("article.answer").nth(1).get_by_test_id("feedback-stale")
    screenshot(page, "copy page comment to review")
    with page.expect_navigation():
        stale.get_by_role("button", name="Garder le commentaire").click()
    assert "Commentaire de l'IA gardé" in page.locator(".messages").inner_text()
    page.goto(f"{asgi_server.url}/exams/{exam.pk}/review/")
    assert page.get_by_test_id("stale-feedback-count").count() == 0
    appreciation = _xlsx_rows(page)[1][5]
    assert appreciation == "\n".join([MINE, f"Q1 : {feedbacks[0]}", f"Q2 : {feedbacks[1]}"])

    # Every step audited on the grade it changed.
    edits = list(GradeEdit.objects.filter(grade__question=q2).order_by("id").values_list("field", "action", "after"))
    assert edits == [
        ("points", "edit", "4.50"),
        ("max_points", "rescale", "7"),
        ("points", "rescale", "5.50"),
        ("feedback_kept", "edit", "1"),
    ]
    assert page.console_errors == []
