"""A teacher's whole workflow in Debian's Chromium, against daphne, a Celery worker and the
scripted LLM server: create an exam, type the barème, upload three PDFs, start grading,
watch the progress reach the end without a reload, edit a grade, restore it, export XLSX."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from grading.models import Copy, Exam, Grade
from tests.factories import PASSWORD, UserFactory
from tests.grading.conftest import roles_env
from tests.support.deadlines import scaled_ms, wait_until
from tests.support.llm_server import LLMServer
from tests.support.pdfs import text_pdf
from tests.support.servers import celery_worker_start, daphne_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def stack(transactional_db, tmp_path):
    """daphne and a worker, both pointed at a scripted LLM server (demo answers)."""
    llm = LLMServer().start()
    env = roles_env(llm)
    web = daphne_start(tmp_path, **env)
    worker = celery_worker_start(tmp_path, **env)
    yield web
    worker.stop()
    web.stop()
    llm.stop()


def _wait(predicate, *, timeout: float = 90.0, what: str = "") -> None:
    wait_until(predicate, base=timeout, what=what, interval=0.3)


# The labels inside `selector` whose field is not on their line, just after them.
_LABELS_APART = """selector => Array.from(document.querySelectorAll(selector + ' label[for]')).filter(label => {
    const own = label.getBoundingClientRect();
    const field = document.getElementById(label.htmlFor).getBoundingClientRect();
    const middle = own.top + own.height / 2;
    return !(field.left >= own.right && field.top <= middle && middle <= field.bottom);
}).map(label => label.textContent.trim())"""


# The table cells whose box is not their row's (top and bottom): a cell made a flex box leaves it.
_CELLS_APART = """() => Array.from(document.querySelectorAll('main td')).filter(cell => {
    const own = cell.getBoundingClientRect(), row = cell.parentElement.getBoundingClientRect();
    return Math.abs(own.top - row.top) > 1 || Math.abs(own.bottom - row.bottom) > 1;
}).map(cell => cell.className + ': ' + cell.textContent.trim().slice(0, 30))"""


def test_a_teacher_goes_from_an_empty_account_to_exported_grades(stack, page, screenshot, tmp_path):
    teacher = UserFactory(email="prof.martin@college.example")
    base = stack.url

    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", teacher.email)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.get_by_text("Vous n'avez encore aucune correction.").is_visible()
    screenshot(page, "empty dashboard")

    # 1. The exam.
    page.get_by_role("link", name="Nouvelle correction").first.click()
    page.fill("input[name=title]", "Contrôle — fractions")
    page.fill("input[name=subject]", "Mathématiques")
    screenshot(page, "new exam")
    with page.expect_navigation():
        page.get_by_role("button", name="Créer la correction").click()
    exam = Exam.objects.get(owner=teacher)

    # 2. The barème, typed inline (HTMX swaps the editor, the total follows).
    for number, (label, points) in enumerate((("Simplifier 12/18", "4"), ("Problème du gâteau", "6")), start=1):
        page.fill("#id_new-label", label)
        page.fill("#id_new-max_points", points)
        page.get_by_role("button", name="Ajouter").click()
        page.locator(".question-row").nth(number - 1).wait_for()
    page.get_by_text("Total : 10 points").wait_for()
    screenshot(page, "bareme")
    # The new question's labels sit on one line, whatever the height of the criteria box.
    tops = page.locator(".question-new label").evaluate_all("els => els.map(e => e.getBoundingClientRect().top)")
    assert max(tops) - min(tops) < 1, tops
    page.locator(".class-upload summary").click()
    assert page.locator("#id_pages_per_student").bounding_box()["width"] < 200  # a page count, not a line

    # 3. Three PDFs through the upload form (JavaScript sends them one by one, then reloads).
    files = []
    for name in ("Dupont Léa", "Martin Hugo", "Bernard Inès"):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(text_pdf([f"Nom : {name}"]))  # three different files: a same file twice is refused
        files.append(str(path))
    page.set_input_files("#copies-files", files)
    page.get_by_role("button", name="Déposer les copies").click()
    page.locator("table.copies tbody tr").nth(2).wait_for(timeout=scaled_ms(30))
    screenshot(page, "uploaded")

    # The worker renders the pages; the estimate counts a copy once its pages exist.
    def ready() -> bool:
        page.reload()
        return page.get_by_test_id("estimate-copies").inner_text().strip().startswith("3")

    _wait(ready, timeout=60, what="the pages to be rendered")
    screenshot(page, "estimate")

    # 4. Start, and watch the progress over the websocket: no reload from here on.
    with page.expect_navigation():
        page.get_by_test_id("start").click()
    page.evaluate("window.__sameDocument = true")
    page.locator("#grading-progress", has_text="Correction terminée").wait_for(timeout=scaled_ms(120))
    assert page.evaluate("window.__sameDocument === true")
    assert set(Copy.objects.filter(exam=exam).values_list("status", flat=True)) == {"done"}
    # The rest of the page follows without a reload: in place of the cancel button, the start
    # button says there is nothing left to start, and no copy's row still says it is waiting.
    page.get_by_test_id("start-blocked").wait_for(timeout=scaled_ms(30))
    assert page.get_by_test_id("step-grading").get_attribute("data-state") == "done"
    page.locator("table.copies tbody", has_text="Terminée").wait_for()
    assert page.locator("table.copies tbody", has_text="En attente").count() == 0
    assert page.evaluate("window.__sameDocument === true")
    screenshot(page, "progress done")

    # 5. Edit one grade in the grid, then restore the AI's.
    with page.expect_navigation():
        page.get_by_role("link", name="Revoir les notes").click()
    first = page.locator(".grade-input").first
    stats_before = page.locator("#review-stats").inner_text()
    grade = Grade.objects.filter(copy__exam=exam).order_by("copy__student_label", "question__order").first()
    new_points = "0,5" if grade.ai_points != Decimal("0.5") else "1"
    first.fill(new_points)
    first.press("Enter")
    page.locator("td.cell.edited").first.wait_for()
    _wait(lambda: Grade.objects.get(pk=grade.pk).edited, timeout=10, what="the edit to be saved")
    assert Grade.objects.get(pk=grade.pk).points == Decimal(new_points.replace(",", "."))
    # The statistics follow the edit without a reload.
    _wait(lambda: page.locator("#review-stats").inner_text() != stats_before, timeout=10, what="the statistics")
    screenshot(page, "grade edited")
    page.locator("td.cell.edited [data-restore-form] button").first.click()
    _wait(lambda: not Grade.objects.get(pk=grade.pk).edited, timeout=10, what="the restore")
    assert Grade.objects.get(pk=grade.pk).points == grade.ai_points
    _wait(lambda: page.locator("td.cell.edited").count() == 0, timeout=10, what="the cell to show the AI grade")
    screenshot(page, "grade restored")

    # 6. Export XLSX.
    with page.expect_download() as download:
        page.get_by_role("link", name="XLSX", exact=True).click()
    workbook = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][0] == "Élève"
    assert sorted(row[0] for row in rows[1:]) == ["Bernard Inès", "Dupont Léa", "Martin Hugo"]
    screenshot(page, "exported")

    # Tablet and phone widths: the pages fit (wide grids scroll inside their own box).
    review_url = page.url
    for width, height in ((768, 1024), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for url in (f"{base}/", f"{base}/exams/{exam.pk}/", review_url):
            page.goto(url)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (url, width)
            assert page.evaluate(_CELLS_APART) == [], (url, width)
        # Each of the grid's filters on one line with its label (a label never ends a line).
        apart = page.evaluate(_LABELS_APART, "[data-testid=grid-filters]")
        assert apart == [], (width, apart)
        screenshot(page, f"review at {width}px")

    assert page.console_errors == []
