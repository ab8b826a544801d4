"""A calibration round in Debian's Chromium, against daphne, a Celery worker and the scripted
LLM server: the teacher lets Corrigo pick three copies of four, grades them blind (the AI's
grades are in neither the page nor its HTML, and the server has not been asked), submits,
reads the figures with the AI's reading beside the largest gap, then launches the bulk run;
the teacher's grades stay the calibration copies' final grades."""

from __future__ import annotations

from decimal import Decimal

import pytest

from grading.models import Calibration, Copy, Grade
from tests.browser.conftest import login
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme
from tests.grading.conftest import roles_env
from tests.grading.helpers import grades_json
from tests.support.deadlines import scaled_ms, wait_until
from tests.support.llm_server import LLMServer
from tests.support.servers import celery_worker_start, daphne_start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

NAMES = ("Abadie Léa", "Bernard Inès", "Martin Hugo", "Petit Noé")
# What the AI gives each copy on the two questions (out of 4 and 6, step 0.5).
AI = {"Abadie Léa": [2, 3], "Bernard Inès": [3.5, 5], "Martin Hugo": [1, 6], "Petit Noé": [4, 4]}


@pytest.fixture
def stack(transactional_db, tmp_path):
    llm = LLMServer().start()
    env = roles_env(llm)
    web = daphne_start(tmp_path, **env)
    worker = celery_worker_start(tmp_path, **env)
    yield web, llm
    worker.stop()
    web.stop()
    llm.stop()


def test_a_teacher_grades_three_copies_blind_then_reads_the_agreement(stack, page, screenshot):
    web, llm = stack
    teacher = UserFactory(email="prof.martin@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Fractions")
    for name in NAMES:
        copy_with_pages(exam, pages=1, label=name, text=f"copie de {name}")
    for name, points in AI.items():
        llm.script(
            grades_json(
                points,
                readings=[f"LECTURE-IA {name} q{n}" for n in (1, 2)],
                reasonings=[f"RAISON-IA {name} q{n}" for n in (1, 2)],
            ),
            match=f"copie de {name}",
        )

    login(page, web.url, teacher)
    page.goto(f"{web.url}/exams/{exam.pk}/")

    # The offer, before « Lancer la correction »: three copies by default, Corrigo picks them.
    page.get_by_text("Avant de tout corriger : un tour de calibration (facultatif)").click()
    assert page.locator("#calibration-count").input_value() == "3"
    with page.expect_navigation():
        page.get_by_test_id("calibration-start").click()
    calibration = Calibration.objects.get(exam=exam)
    picked = list(calibration.copies.order_by("id").values_list("student_label", flat=True))
    assert picked == ["Abadie Léa", "Martin Hugo", "Petit Noé"]  # in each third of the four, its middle

    # Blind: no AI grade anywhere, in the page or its HTML, and the server was never asked.
    fieldsets = page.get_by_test_id("calibration-copy")
    assert fieldsets.count() == 3
    html = page.content()
    assert "LECTURE-IA" not in html and "RAISON-IA" not in html
    assert llm.requests == []
    assert (
        "Ensuite, l'IA corrige ces 3 copies : coût estimé" in page.get_by_test_id("calibration-estimate").inner_text()
    )
    page.goto(f"{web.url}/exams/{exam.pk}/")
    assert "LECTURE-IA" not in page.content()
    assert "3 copies attendent vos notes" in page.get_by_test_id("calibration-panel").inner_text()
    with page.expect_navigation():
        page.get_by_test_id("calibration-grade").click()
    screenshot(page, "blind form")

    # The teacher's grades: Léa as the AI, Hugo one step below on q1, Noé 1.5 below on q2.
    mine = {"Abadie Léa": ["2", "3"], "Martin Hugo": ["0,5", "6"], "Petit Noé": ["4", "2,5"]}
    for index in range(3):
        fieldset = fieldsets.nth(index)
        name = fieldset.locator("legend").inner_text().strip()
        inputs = fieldset.locator("input[inputmode=decimal]")
        for number, value in enumerate(mine[name]):
            inputs.nth(number).fill(value)
    with page.expect_navigation():
        page.get_by_test_id("calibration-submit").click()

    # The AI round runs on the worker; the page follows until the figures are there.
    page.get_by_test_id("calibration-figures").wait_for(timeout=scaled_ms(120))
    assert len(llm.requests) == 3
    figures = page.get_by_test_id("calibration-figures").inner_text()
    assert "67 %" in page.get_by_test_id("figure-exact").inner_text()  # 4 of 6 equal
    assert "83 %" in page.get_by_test_id("figure-within").inner_text()  # one step off counts
    assert "indicatif : 3 copies seulement (moins de 5)" in figures
    gaps = page.get_by_test_id("calibration-gap")
    assert gaps.count() == 2
    first = gaps.first.inner_text()
    assert "Petit Noé" in first and "LECTURE-IA Petit Noé q2" in first and "RAISON-IA Petit Noé q2" in first
    screenshot(page, "figures")

    # The bulk run: the other copy only; the teacher's grades stay the final ones.
    assert "Lancer la correction de l'autre copie" in page.get_by_test_id("start").inner_text()
    with page.expect_navigation():
        page.get_by_test_id("start").click()
    wait_until(
        lambda: set(Copy.objects.filter(exam=exam).values_list("status", flat=True)) == {Copy.Status.DONE},
        base=120,
        what="the bulk run to finish",
    )
    assert len(llm.requests) == 4
    noe = Grade.objects.get(copy__exam=exam, copy__student_label="Petit Noé", question__order=1)
    assert (noe.points, noe.ai_points) == (Decimal("2.5"), Decimal("4"))
    page.goto(f"{web.url}/exams/{exam.pk}/")
    # 8 AI grades, 2 changed by the teacher's calibration grades.
    assert "75 % des notes laissées telles que l'IA les a données" in page.get_by_test_id("agreement").inner_text()
    assert page.console_errors == []
    screenshot(page, "exam page after the bulk run")
