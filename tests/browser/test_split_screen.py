"""The split screen of a class PDF in Debian's Chromium: each proposed copy shows its pages as
thumbnails and the student read on it, matched to the class list; the teacher moves a page
boundary, sees the thumbnails follow, reassigns a student, and confirms."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grading import services
from grading.models import Copy
from rosters.importing import roster_rows_parse
from rosters.services import roster_import, school_class_create
from tests.browser.conftest import login
from tests.factories import UserFactory
from tests.grading.conftest import roles_env
from tests.support.deadlines import scaled_ms
from tests.support.llm_server import LLMServer
from tests.support.pdfs import text_pdf
from tests.support.servers import celery_worker_start, daphne_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PAGES = [
    "Nom : Léa Abadie   Classe : 3e B",
    "Léa, suite de la copie",
    "Nom : L. Martin   Classe : 3e B",
    "Lucas, suite",
    "Nom : Martin   Classe : 3e B",
]


@pytest.fixture
def web(transactional_db, tmp_path, settings):
    """daphne and a Celery worker (which reads the split proposal) pointed at the scripted
    server (demo answers read the names), daphne sharing this test's cache, where the
    thumbnails are."""
    llm = LLMServer().start()
    server = daphne_start(tmp_path, CACHE_KEY_PREFIX=settings.CACHES["default"]["KEY_PREFIX"], **roles_env(llm))
    worker = celery_worker_start(tmp_path, name="split", concurrency=2, **roles_env(llm))
    yield server
    worker.stop()
    server.stop()
    llm.stop()


# A function, not an expression: Playwright eval()s a string expression, which the CSP forbids.
LOADED = "() => [...document.querySelectorAll('.thumbs img')].every(i => i.complete)"


def _thumbnails(row) -> list[int]:
    """The pages whose thumbnail the browser loaded in this row (a real JPEG, not the placeholder)."""
    return row.locator("img").evaluate_all(
        "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > i.naturalWidth)"
        ".map(i => Number(i.dataset.page))"
    )


def test_the_teacher_checks_the_thumbnails_moves_a_boundary_and_picks_a_student(web, page, screenshot):
    teacher = UserFactory(email="prof.abadie@college.example")
    school_class = school_class_create(teacher=teacher, name="3e B", school_year="2026-2027")
    roster_import(school_class=school_class, rows=roster_rows_parse(text="ABADIE Léa\nMARTIN Lucas\nMARTIN Manon\n"))
    exam = services.exam_create(owner=teacher, title="Contrôle", school_class=school_class)
    source = services.source_upload_class(exam=exam, upload=SimpleUploadedFile("classe.pdf", text_pdf(PAGES)))
    assert services.source_thumbnails_render(source=source) == 5  # what the worker's task does

    login(page, web.url, teacher)
    # The proposal (the detection model reading the pages) is made by the worker: the page
    # polls its status and reloads itself once it is ready.
    page.goto(f"{web.url}/sources/{source.pk}/split/")
    rows = page.get_by_test_id("split-row")
    rows.first.wait_for(timeout=scaled_ms(90))
    assert rows.count() == 4  # three proposed copies and a blank row to add one
    page.wait_for_function(LOADED, timeout=scaled_ms(10))
    assert [_thumbnails(rows.nth(n)) for n in range(3)] == [[1, 2], [3, 4], [5]]
    # The names read on the pages, matched to the list: "Martin" alone stays for the teacher.
    selected = [rows.nth(n).locator("select").evaluate("s => s.options[s.selectedIndex].text") for n in range(3)]
    assert selected == ["ABADIE Léa", "MARTIN Lucas", "— non trouvé —"]
    screenshot(page, "proposal")

    # Léa's copy is one page only; Lucas's starts a page earlier.
    rows.nth(0).locator("input[name$=last_page]").fill("1")
    rows.nth(1).locator("input[name$=first_page]").fill("2")
    rows.nth(2).locator("select").select_option(label="MARTIN Manon")
    with page.expect_navigation():
        page.get_by_role("button", name="Mettre à jour l'aperçu").click(timeout=scaled_ms(10))
    page.wait_for_function(LOADED, timeout=scaled_ms(10))
    assert [_thumbnails(rows.nth(n)) for n in range(3)] == [[1], [2, 3, 4], [5]]
    assert not Copy.objects.filter(exam=exam).exists()  # nothing exists before the teacher confirms
    screenshot(page, "boundary moved")

    with page.expect_navigation():
        page.get_by_role("button", name="Confirmer le découpage").click()
    copies = list(Copy.objects.filter(exam=exam).order_by("first_page"))
    assert [(c.student_label, c.first_page, c.last_page) for c in copies] == [
        ("ABADIE Léa", 1, 1),
        ("MARTIN Lucas", 2, 4),
        ("MARTIN Manon", 5, 5),
    ]
    assert page.console_errors == []
    screenshot(page, "confirmed")
