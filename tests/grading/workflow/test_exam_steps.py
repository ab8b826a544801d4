"""The exam page as five steps (Barème → Copies → Correction → Revue → Rendu): each step's state
at its boundaries (selectors.exam_steps), and the page showing only the actions that can act."""

from __future__ import annotations

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading import selectors
from tests.factories import ExamFactory, copy_with_pages, exam_with_bareme
from tests.grading.workflow.pdfs import pdf_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def steps(exam):
    exam.refresh_from_db()
    return selectors.exam_page_get(exam=exam)["steps"]


def states(exam) -> dict[str, str]:
    return {step.key: str(step.state) for step in steps(exam)}


def page(client, exam) -> str:
    response = client.get(reverse("exam_detail", args=[exam.pk]))
    assert response.status_code == 200
    return html.unescape(response.text)


def test_a_new_exam_says_what_to_do_first_and_offers_no_action_that_cannot_act(owner_client, teacher):
    exam = ExamFactory(owner=teacher)

    assert states(exam) == {
        "bareme": "todo",
        "copies": "todo",
        "grading": "blocked",
        "review": "blocked",
        "handback": "blocked",
    }
    assert steps(exam).grading.detail == "Il faut d'abord un barème et des copies."
    text = page(owner_client, exam)
    assert "Revoir les notes" not in text
    assert "Supprimer les fichiers des élèves" not in text
    assert 'data-testid="start"' not in text and 'data-testid="start-blocked"' in text
    assert "Il faut d'abord un barème et des copies." in text
    assert 'data-testid="bareme-folded"' not in text
    assert 'data-testid="step-grading" data-state="blocked"' in text
    assert "{#" not in text and "#}" not in text  # a template comment left on the page


def test_grading_is_blocked_without_a_question_and_ready_with_one(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=0)
    copy_with_pages(exam, pages=1, label="Léa")
    assert steps(exam).grading.state == "blocked"
    assert steps(exam).grading.detail == "Il faut d'abord un barème (au moins une question)."
    assert steps(exam).bareme.state == "todo"

    owner_client.post(reverse("question_add", args=[exam.pk]), {"new-label": "Exercice 1", "new-max_points": "4"})

    assert steps(exam).bareme.state == "done" and steps(exam).bareme.detail == "1 question, 4 points"
    assert steps(exam).grading.state == "todo"
    assert steps(exam).grading.detail == "1 copie prête à corriger."
    text = page(owner_client, exam)
    assert 'data-testid="start"' in text and 'data-testid="start-blocked"' not in text


def test_a_first_question_added_in_place_unblocks_the_start_without_a_reload(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=0)
    copy_with_pages(exam, pages=1, label="Léa")
    assert 'data-testid="start-blocked"' in page(owner_client, exam)

    response = owner_client.post(
        reverse("question_add", args=[exam.pk]),
        {"new-label": "Exercice 1", "new-max_points": "4"},
        HTTP_HX_REQUEST="true",
    )

    text = html.unescape(response.text)
    # The editor, then the steps and the start button swapped out of band.
    assert 'id="exam-steps" hx-swap-oob="true"' in text
    assert 'data-testid="step-grading" data-state="todo"' in text
    assert 'id="grading-start" hx-swap-oob="true"' in text
    assert 'data-testid="start"' in text and 'data-testid="start-blocked"' not in text
    assert "1 copie prête à corriger." in text


def test_grading_is_blocked_without_a_copy_and_ready_with_one(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=2)
    assert states(exam)["copies"] == "todo"
    assert steps(exam).grading.detail == "Il faut d'abord des copies."
    assert "Supprimer les fichiers des élèves" not in page(owner_client, exam)

    copy_with_pages(exam, pages=1, label="Léa")

    assert steps(exam).copies.state == "done" and steps(exam).copies.detail == "1 copie"
    assert steps(exam).grading.state == "todo"
    text = page(owner_client, exam)
    assert "Supprimer les fichiers des élèves" in text
    assert "Revoir les notes" not in text  # nothing graded yet


def test_uploaded_copies_whose_pages_are_not_ready_block_grading_until_one_is(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    # The render task runs on commit, which this test never reaches: the pages are not ready.
    files = [SimpleUploadedFile(f"{name}.pdf", pdf_bytes(1), content_type="application/pdf") for name in ("a", "b")]
    owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": files})

    assert steps(exam).copies.state == "running"
    assert steps(exam).copies.detail == "2 copies, dont 2 en préparation."
    assert steps(exam).grading.state == "blocked"
    assert steps(exam).grading.detail == "Les pages des copies sont en préparation."

    copy_with_pages(exam, pages=1, label="Léa")

    assert steps(exam).copies.detail == "3 copies, dont 2 en préparation."
    assert steps(exam).grading.state == "todo" and steps(exam).grading.detail == "1 copie prête à corriger."


def test_a_class_pdf_waiting_for_its_split_is_the_copies_step_to_do(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    # No pages per student: an automatic split is proposed, and the teacher confirms it later.
    upload = SimpleUploadedFile("classe.pdf", pdf_bytes(4), content_type="application/pdf")
    owner_client.post(reverse("class_upload", args=[exam.pk]), {"file": upload})
    assert exam.sources.count() == 1 and not exam.copies.exists()

    assert steps(exam).copies.state == "todo"
    assert steps(exam).copies.detail == "1 fichier attend son découpage en copies."
    assert steps(exam).grading.detail == "Il faut d'abord des copies."
    assert "Supprimer les fichiers des élèves" in page(owner_client, exam)


def test_all_graded_then_one_more_copy(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=2)
    grade_exam(exam, {"Léa": [3, 4], "Hugo": [1, 2]})

    assert states(exam) == {
        "bareme": "done",
        "copies": "done",
        "grading": "done",
        "review": "todo",
        "handback": "todo",
    }
    assert steps(exam).grading.detail == "Les 2 copies sont corrigées."
    assert steps(exam).review.detail == "2 copies sur 2 à revoir."
    assert steps(exam).bareme_folded
    text = page(owner_client, exam)
    assert 'data-testid="bareme-folded"' in text
    assert "Revoir les notes" in text and "Rendre les copies" in text
    assert 'data-testid="start-blocked"' in text  # nothing left to start

    copy_with_pages(exam, pages=1, label="Zoé")

    assert steps(exam).grading.state == "todo"
    assert steps(exam).grading.detail == "1 copie prête à corriger. 2 déjà corrigées."
    assert 'data-testid="start"' in page(owner_client, exam)


def test_one_graded_copy_is_enough_to_review_and_hand_back(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=1)
    grade_exam(exam, {"Léa": [3]})

    assert steps(exam).review.state == "todo" and steps(exam).review.detail == "1 copie sur 1 à revoir."
    assert steps(exam).handback.detail == "1 copie sur 1 à rendre : liens élèves, PDF annotés, exports."


def test_review_is_done_when_every_graded_copy_is_reviewed(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=1)
    grade_exam(exam, {"Léa": [3], "Hugo": [2]})
    lea, hugo = exam.copies.order_by("student_label").reverse()

    owner_client.post(reverse("copy_reviewed", args=[lea.pk]), {"reviewed": "1"})
    assert steps(exam).review.state == "todo" and steps(exam).review.detail == "1 copie sur 2 à revoir."

    owner_client.post(reverse("copy_reviewed", args=[hugo.pk]), {"reviewed": "1"})
    assert steps(exam).review.state == "done"
    assert steps(exam).review.detail == "Les 2 copies corrigées sont revues."


def test_hand_back_is_done_when_every_graded_copy_has_its_link(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=1)
    grade_exam(exam, {"Léa": [3], "Hugo": [2]})
    assert steps(exam).handback.state == "todo"

    owner_client.post(reverse("exam_links_print", args=[exam.pk]), {"days": 30})

    assert steps(exam).handback.state == "done"
    assert steps(exam).handback.detail == "Les 2 copies corrigées ont leur lien élève."
    copy_with_pages(exam, pages=1, label="Zoé")  # not graded: nothing more to hand back yet
    assert steps(exam).handback.state == "done"


def test_a_running_job_is_the_grading_step_in_progress(owner_client, teacher, llm_server):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy_with_pages(exam, pages=1, label="Léa")
    # Started, never run: no worker takes the task in this test.
    owner_client.post(reverse("exam_start", args=[exam.pk]))
    assert exam.jobs.exists()

    assert steps(exam).grading.state == "running"
    text = page(owner_client, exam)
    assert "Annuler la correction" in text
    assert 'data-testid="start"' not in text and 'data-testid="start-blocked"' not in text


def test_after_a_purge_grading_is_blocked_and_the_purge_is_not_offered_again(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=1)
    grade_exam(exam, {"Léa": [3]})
    owner_client.post(reverse("exam_files_purge", args=[exam.pk]))
    exam.refresh_from_db()
    assert exam.files_purged_at is not None
    copy_with_pages(exam, pages=1, label="Zoé")

    assert steps(exam).grading.state == "blocked"
    assert steps(exam).grading.detail == "Les fichiers des élèves ont été supprimés."
    assert not steps(exam).student_files
    assert "Supprimer les fichiers des élèves" not in page(owner_client, exam)


def test_the_steps_are_in_english_too(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    owner_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    text = page(owner_client, exam)
    assert "Add a marking scheme and copies first." in text
    assert "to do" in text and "blocked" in text
