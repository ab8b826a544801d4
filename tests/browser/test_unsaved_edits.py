"""Leaving a page with edits not saved, in Debian's Chromium: the copy page, the review grid and the
by-question page ask first (the browser's « beforeunload » prompt, static/js/unsaved.js) while a
field differs from its saved value — an appréciation or a comment typed, a grade typed in a cell
not yet left, an answer ticked and not marked reviewed; they
leave quietly once it is saved (« Enregistrer », the grade's Enter, the cell left for a link, the
model's draft through htmx) and when nothing was typed. Chromium asks only after a gesture on the
page, which typing is. The copy is graded through the engine and the scripted server (Q1 /4, Q2 /6)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from grading import services
from grading.models import Copy, ExamStudent, Grade
from rosters.importing import roster_rows_parse
from rosters.services import roster_import, school_class_create
from tests.browser.conftest import cell_saved, login
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env
from tests.grading.helpers import grades_json
from tests.support.deadlines import scaled_ms, wait_until
from tests.support.servers import daphne_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NAME = "Abadie Léa"
MINE = "Léa a bien travaillé ; soigner la rédaction."
DRAFT = "Appréciation du modèle pour Léa : des équations bien posées."


@pytest.fixture
def web(llm, tmp_path):
    """daphne reaching the scripted server (the appréciation's draft is asked from the page)."""
    server = daphne_start(
        tmp_path, **roles_env(llm), CACHE_KEY_PREFIX=f"{django_settings.REDIS_PREFIX}:{uuid.uuid4().hex[:8]}"
    )
    yield server
    server.stop()


@pytest.fixture
def graded(llm, eager_tasks):
    """Léa's copy graded inline through the engine and the scripted server (3 / 4, 5 / 6)."""
    teacher = UserFactory(email="prof.morel@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Équations")
    copy = copy_with_pages(exam, pages=1, label=NAME, text=f"copie de {NAME}")
    llm.script(grades_json([3, 5]), match=f"copie de {NAME}")
    services.job_start(exam=exam, user=teacher)
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE
    return copy


@pytest.fixture
def with_absent(llm, eager_tasks):
    """An exam of a class list (Léa, Hugo) graded inline; Hugo handed in no copy: his row in the
    grid has no grades, and a status, « Absent » until the teacher chooses another."""
    teacher = UserFactory(email="prof.morel@college.example")
    school_class = school_class_create(teacher=teacher, name="4e A", school_year="2026-2027")
    roster_import(school_class=school_class, rows=roster_rows_parse(text="ABADIE Léa\nBERNARD Hugo\n"))
    exam = exam_with_bareme(owner=teacher, questions=2, title="Équations", school_class=school_class)
    copy_with_pages(exam, pages=1, label=NAME, text=f"copie de {NAME}")
    llm.script(grades_json([3, 5]), match=f"copie de {NAME}")
    services.job_start(exam=exam, user=teacher)
    return exam


def _open(page, web, path: str) -> list[str]:
    """The teacher logged in on `path`; the dialogs the page opens from then on (each accepted)."""
    login(page, web.url, Copy.objects.get().exam.owner)
    page.goto(f"{web.url}{path}")
    seen: list[str] = []

    def accept(dialog):
        seen.append(dialog.type)
        dialog.accept()

    page.on("dialog", accept)
    return seen


def _leave_for_review(page) -> None:
    """Leaves the copy page by its link to the review (a click: the focused field is left first)."""
    with page.expect_navigation():
        page.locator(".page-head").get_by_role("link", name="Revue · Équations").click()
    expect(page.locator("#grid-title")).to_be_visible()


def _close(page) -> None:
    """Closes the tab as the teacher would (the page's beforeunload runs)."""
    with page.expect_event("close"):
        page.close(run_before_unload=True)


def test_an_appreciation_typed_and_not_saved_asks_before_leaving(graded, web, page):
    seen = _open(page, web, f"/copies/{graded.pk}/")
    page.locator("#appreciation-text").click()
    page.keyboard.type(MINE)
    _leave_for_review(page)  # accepted: she chose to leave
    assert seen == ["beforeunload"]
    assert Copy.objects.get().appreciation == ""
    assert page.console_errors == []


def test_a_comment_typed_then_another_form_saved_asks_for_the_comment(graded, web, page):
    seen = _open(page, web, f"/copies/{graded.pk}/")
    page.locator("textarea[name=feedback]").first.click()
    page.keyboard.type(" À revoir.")
    # « Marquer comme revue » saves its own form, not the comment typed in another.
    with page.expect_navigation():
        page.get_by_role("button", name="Marquer comme revue").click()
    assert seen == ["beforeunload"]


def test_a_grade_typed_in_a_cell_not_yet_left_asks_before_the_tab_closes(graded, web, page):
    seen = _open(page, web, f"/exams/{graded.exam_id}/review/")
    cell = page.locator('.grade-input[data-row="0"][data-col="0"]')
    cell.click()
    page.keyboard.type("2")
    _close(page)
    assert seen == ["beforeunload"]


def _by_question(page, web, copy) -> list[str]:
    question = copy.exam.questions.order_by("order").first()
    return _open(page, web, f"/exams/{copy.exam_id}/review/questions/{question.pk}/")


def test_the_by_question_page_asks_for_a_grade_typed_in_a_cell_not_yet_left(graded, web, page):
    seen = _by_question(page, web, graded)
    page.locator(".grade-input").first.click()
    page.keyboard.type("1")
    _close(page)
    assert seen == ["beforeunload"]
    assert sorted(Grade.objects.filter(copy=graded).values_list("points", flat=True)) == [3, 5]


def test_the_by_question_page_asks_for_answers_ticked_and_not_marked_reviewed(graded, web, page):
    seen = _by_question(page, web, graded)
    page.locator(".review-check").first.check()  # ticked for « Marquer comme revues », not sent
    _close(page)
    assert seen == ["beforeunload"]


def test_nothing_typed_leaves_quietly(graded, web, page):
    seen = _open(page, web, f"/copies/{graded.pk}/")
    page.locator("#appreciation-text").click()  # a gesture, nothing changed
    _leave_for_review(page)
    page.locator('.grade-input[data-row="0"][data-col="0"]').click()
    _close(page)
    assert seen == []


def test_saved_edits_leave_quietly(graded, web, page, llm):
    seen = _open(page, web, f"/copies/{graded.pk}/")
    # The model's draft, asked through htmx, fills the field and is saved with the copy.
    llm.script({"appreciation": DRAFT}, match="[TASK:appreciation]")
    page.locator("#appreciation").get_by_role("button", name="Rédiger avec l'IA").click()
    expect(page.locator("#appreciation-text")).to_have_value(DRAFT, timeout=scaled_ms(30))
    page.reload()
    assert seen == []

    # « Enregistrer »: the form's submission itself does not ask, nor the page it brings.
    page.locator("#appreciation-text").click()
    page.keyboard.press("Control+a")
    page.keyboard.type(MINE)
    with page.expect_navigation():
        page.locator("#appreciation").get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_text("Appréciation enregistrée.")).to_be_visible()
    assert Copy.objects.get().appreciation == MINE

    # A grade saved by Enter, another typed and its cell left for a link: saved as it is left.
    first, second = page.locator(".grade-input").nth(0), page.locator(".grade-input").nth(1)
    first.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("2")
    page.keyboard.press("Enter")
    cell_saved(first, "2")
    second.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("4")
    _leave_for_review(page)
    wait_until(
        lambda: list(Grade.objects.order_by("question__order").values_list("points", flat=True)) == [2, 4],
        base=10,
        what="both grades saved",
    )
    _close(page)
    assert seen == []


def _hugo(page):
    """Hugo's status in the grid (a select saved by its row's « Enregistrer »)."""
    return page.get_by_label(re.compile(r"Statut de .*Hugo"))


def _hugo_save(page):
    return page.locator("tr.missing", has_text="Hugo").get_by_role("button", name="Enregistrer")


def _hugo_status(exam) -> str | None:
    row = ExamStudent.objects.filter(exam=exam, student__last_name__iexact="Bernard").first()
    return row.status if row else None


def test_a_status_chosen_in_the_grid_and_not_saved_asks_before_the_tab_closes(with_absent, web, page):
    seen = _open(page, web, f"/exams/{with_absent.pk}/review/")
    _hugo(page).select_option(label="Dispensé")
    _close(page)
    assert seen == ["beforeunload"]
    assert _hugo_status(with_absent) is None  # not saved: absent by default


def test_a_status_saved_or_refused_leaves_quietly_with_the_saved_status_shown(with_absent, web, page):
    seen = _open(page, web, f"/exams/{with_absent.pk}/review/")
    # Refused by the server (its answer to a status it does not know): the grid comes back with
    # the reason and the status as it is saved, not the teacher's choice shown as if it were.
    page.route(
        "**/status/",
        lambda route: route.continue_(post_data=route.request.post_data.replace("status=not_graded", "status=x")),
    )
    _hugo(page).select_option(label="Non noté")
    with page.expect_navigation():
        _hugo_save(page).click()
    expect(page.get_by_text("Statut inconnu.")).to_be_visible()
    expect(_hugo(page)).to_have_value("absent")
    assert _hugo_status(with_absent) is None
    page.unroute("**/status/")

    _hugo(page).select_option(label="Dispensé")
    with page.expect_navigation():
        _hugo_save(page).click()
    expect(_hugo(page)).to_have_value("excused")
    assert _hugo_status(with_absent) == "excused"
    _close(page)
    assert seen == []  # neither submission nor leaving the pages they brought asked


def test_a_status_whose_save_is_under_way_asks_before_the_tab_closes(with_absent, web, page):
    seen = _open(page, web, f"/exams/{with_absent.pk}/review/")
    page.route("**/status/", lambda route: None)  # held: the server has not answered yet
    _hugo(page).select_option(label="Non noté")
    with page.expect_request("**/status/"):
        _hugo_save(page).click(no_wait_after=True)
    _close(page)
    assert seen == ["beforeunload"]
    assert _hugo_status(with_absent) is None
