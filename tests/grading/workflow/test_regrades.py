"""Regrade requests: from their link a student asks for a second look at one question (once
per question, a few at most in ten minutes); the teacher sees it in the review and on the copy
page, answers, and the student reads the answer on the same link. Graded through the engine
and the scripted server, links issued through the teacher's page."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from grading.models import RegradeRequest, StudentLinkAccess

from .test_student_links import _printed, graded  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(response.content.decode())).split())


def _ask(client: Client, token: str, question, message: str):
    return client.post(reverse("student_regrade", args=[token]), {"question": question.pk, "message": message})


def test_a_student_asks_the_teacher_answers_the_student_reads_it(owner_client, teacher, graded):  # noqa: F811
    exam, lea, _lucas = graded
    token = _printed(owner_client, exam)[lea.student_label]
    student = Client()
    q2 = exam.questions.order_by("order")[1]

    response = _ask(student, token, q2, "J'ai justifié l'angle à la ligne 4, page 2.")

    assert response.status_code == 302
    page = html.unescape(student.get(reverse("student_copy", args=[token])).content.decode())
    assert "J'ai justifié l'angle à la ligne 4, page 2." in page
    assert "En attente de la réponse de votre professeur." in page
    review = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk])).content.decode())
    assert "Demandes de relecture des élèves" in review
    # The message quoted as French writes it: no-break spaces inside « » and before the colon.
    quoted = "\u00a0: «\u00a0J'ai justifié l'angle à la ligne 4, page 2.\u00a0»"
    assert f"{q2.label}{quoted}" in review
    regrade = RegradeRequest.objects.get()
    assert (regrade.copy, regrade.question, regrade.status) == (lea, q2, "open")
    assert StudentLinkAccess.objects.filter(link=regrade.link, what="regrade").count() == 1

    copy_page = html.unescape(owner_client.get(reverse("copy_detail", args=[lea.pk])).content.decode())
    assert "Demandes de relecture de l'élève" in copy_page
    assert "«\u00a0J'ai justifié l'angle à la ligne 4, page 2.\u00a0»" in copy_page
    owner_client.post(
        reverse("regrade_answer", args=[lea.pk, regrade.pk]), {"answer": "Vu : un demi-point de plus en Q2."}
    )
    grade = lea.grades.get(question=q2)
    owner_client.post(reverse("grade_update", args=[grade.pk]), {"points": str(grade.points + 1)})

    regrade.refresh_from_db()
    assert (regrade.status, regrade.answered_by, regrade.answer) == (
        "answered",
        teacher,
        "Vu : un demi-point de plus en Q2.",
    )
    assert regrade.answered_at is not None
    page = _text(student.get(reverse("student_copy", args=[token])))
    assert "Réponse de votre professeur : Vu : un demi-point de plus en Q2." in page
    assert grade.edits.filter(field="points").exists()  # the change of points is audited
    review = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk])).content.decode())
    assert "Demandes de relecture des élèves" not in review  # answered: out of the queue


def test_once_per_question_short_messages_and_a_rate_limit(owner_client, graded):  # noqa: F811
    exam, lea, lucas = graded
    tokens = _printed(owner_client, exam)
    token = tokens[lea.student_label]
    student = Client()
    q1, q2 = exam.questions.order_by("order")

    assert _ask(student, token, q1, "Relisez ma conclusion.").status_code == 302
    again = _ask(student, token, q1, "Encore une fois.")
    assert again.status_code == 400
    assert "Vous avez déjà demandé une relecture de cette question." in html.unescape(again.content.decode())
    assert _ask(student, token, q2, "x" * 501).status_code == 400
    assert _ask(student, token, q2, "   ").status_code == 400
    # Three tries in ten minutes (the refused duplicate counts, the malformed ones do not).
    assert _ask(student, token, q2, "Relisez la figure.").status_code == 302
    limited = _ask(student, token, q2, "Et encore la figure.")
    assert limited.status_code == 400
    assert "Trop de demandes" in html.unescape(limited.content.decode())
    assert RegradeRequest.objects.count() == 2
    # Another exam's question id, or a token that opens nothing, is nothing.
    other = Client()
    assert _ask(other, "n" * 43, q2, "Je ne suis pas élève.").status_code == 404
    assert not RegradeRequest.objects.filter(copy=lucas).exists()
