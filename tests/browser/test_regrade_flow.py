"""Handing a copy back in Debian's Chromium: the student opens their private link (no
account), asks for a second look at a question, the teacher answers it on the copy page, and
the student reads the answer on the same link. Graded through the scripted server."""

from __future__ import annotations

import pytest

from grading import services
from grading.models import Copy, RegradeRequest
from tests.factories import UserFactory, copy_with_pages, exam_with_bareme

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_student_asks_for_a_second_look_and_reads_the_answer(
    llm, eager_tasks, asgi_server, browser, page, screenshot, log_in
):
    teacher = UserFactory(email="prof.martin@college.example")
    exam = exam_with_bareme(owner=teacher, questions=2, title="Fonctions affines")
    copy = copy_with_pages(exam, pages=1, label="Abadie Léa")
    services.job_start(exam=exam, user=teacher)  # the copy task runs inline, through the scripted server
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE
    token = services.copy_link_issue(copy=copy, user=teacher).url.rstrip("/").rsplit("/", 1)[-1]
    link = f"{asgi_server.url}/r/{token}/"

    # The student: no account, their link only.
    page.goto(link)
    assert "Abadie Léa" in page.locator("main").inner_text()
    page.locator("summary", has_text="Demander une relecture").first.click()
    page.locator("textarea[name=message]").first.fill("J'ai donné le coefficient directeur à la ligne 3.")
    with page.expect_navigation():
        page.locator("button", has_text="Envoyer la demande").first.click()
    assert "En attente de la réponse de votre professeur." in page.locator("main").inner_text()
    assert RegradeRequest.objects.filter(copy=copy, status="open").count() == 1

    # The teacher, in a browser of their own: the review lists it, the copy page answers it.
    teacher_context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    desk = teacher_context.new_page()
    log_in(desk, teacher)
    desk.goto(f"{asgi_server.url}/exams/{exam.pk}/review/")
    assert "coefficient directeur" in desk.locator("#regrade-requests").inner_text()
    with desk.expect_navigation():
        desk.locator("#regrade-requests a").first.click()
    desk.locator("#regrades textarea[name=answer]").fill("Bien vu : la réponse est juste, la note est corrigée.")
    with desk.expect_navigation():
        desk.locator("#regrades button", has_text="Répondre").click()
    assert "Réponse enregistrée" in desk.locator("main").inner_text()
    teacher_context.close()

    page.goto(link)
    text = page.locator("main").inner_text()
    assert "Réponse de votre professeur : Bien vu : la réponse est juste, la note est corrigée." in text
    path = screenshot(page, "student reads the answer")
    assert path.stat().st_size > 10_000
    assert page.console_errors == []
