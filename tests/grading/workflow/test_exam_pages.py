from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from grading.models import Exam, Question
from tests.factories import ExamFactory, QuestionFactory, copy_with_pages, exam_with_bareme

pytestmark = pytest.mark.django_db


def exam_data(**overrides) -> dict:
    return {
        "title": "Contrôle — équations",
        "subject": "Mathématiques",
        "level": "3e",
        "language": "fr",
        "mode": "double",
        "rounding_step": "0.25",
        "instructions": "",
    } | overrides


def test_it_creates_an_exam_for_the_teacher(owner_client, teacher):
    response = owner_client.post(reverse("exam_create"), exam_data())
    exam = Exam.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("exam_detail", args=[exam.pk])
    assert exam.owner == teacher
    assert exam.mode == "double"
    assert exam.rounding_step == Decimal("0.25")


def test_it_refuses_an_exam_without_a_title(owner_client):
    response = owner_client.post(reverse("exam_create"), exam_data(title=""))
    assert response.status_code == 200
    assert "Ce champ est obligatoire." in response.text
    assert not Exam.objects.exists()


def test_it_refuses_an_unknown_rounding_step(owner_client):
    response = owner_client.post(reverse("exam_create"), exam_data(rounding_step="0.3"))
    assert response.status_code == 200
    assert not Exam.objects.exists()


def test_it_edits_the_exam(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    owner_client.post(reverse("exam_edit", args=[exam.pk]), exam_data(title="Nouveau titre", language="en"))
    exam.refresh_from_db()
    assert exam.title == "Nouveau titre"
    assert exam.language == "en"


def test_it_deletes_the_exam_after_confirmation(owner_client, teacher):
    exam = ExamFactory(owner=teacher, title="À supprimer")
    confirm = owner_client.get(reverse("exam_delete", args=[exam.pk]))
    assert "À supprimer" in confirm.text
    assert Exam.objects.filter(pk=exam.pk).exists()
    response = owner_client.post(reverse("exam_delete", args=[exam.pk]))
    assert response.status_code == 302
    assert not Exam.objects.filter(pk=exam.pk).exists()


@pytest.mark.parametrize(
    ("points", "french", "english"),
    [
        (None, "Total : 0 point", "Total: 0 points"),  # a new exam, its barème still empty
        ("0.5", "Total : 0,50 point", "Total: 0.50 points"),
        ("1", "Total : 1 point", "Total: 1 point"),
        ("1.5", "Total : 1,50 point", "Total: 1.50 points"),  # French: singular below 2
        ("2", "Total : 2 points", "Total: 2 points"),
        ("1000", "Total : 1000 points", "Total: 1000 points"),
    ],
)
def test_the_bareme_total_agrees_points_with_it_in_each_language(owner_client, teacher, points, french, english):
    exam = ExamFactory(owner=teacher)
    if points:
        owner_client.post(reverse("question_add", args=[exam.pk]), {"new-label": "Q", "new-max_points": points})
    total = re.compile(r'data-testid="bareme-total">([^<]*)<')
    assert total.search(owner_client.get(reverse("exam_detail", args=[exam.pk])).text).group(1) == french
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    assert total.search(owner_client.get(reverse("exam_detail", args=[exam.pk])).text).group(1) == english


def test_it_adds_questions_and_shows_the_running_total(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    url = reverse("question_add", args=[exam.pk])
    owner_client.post(url, {"new-label": "Résoudre 2x + 3 = 9", "new-max_points": "4", "new-criteria": "x = 3"})
    response = owner_client.post(
        url, {"new-label": "Tracer la droite", "new-max_points": "2.5"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert 'id="bareme"' in response.text
    assert "<html" not in response.text
    assert "Total : 6,50 points" in response.text
    assert list(exam.questions.values_list("label", "order")) == [
        ("Résoudre 2x + 3 = 9", 0),
        ("Tracer la droite", 1),
    ]


def test_points_typed_with_a_french_decimal_comma_are_read_as_such(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("question_add", args=[exam.pk]),
        {"new-label": "Somme de fractions", "new-max_points": "2,5"},
        headers={"HX-Request": "true"},
    )
    assert exam.questions.get().max_points == Decimal("2.5")
    # A number input would drop the comma in the browser (2,5 -> 25): the field is text.
    assert 'type="number"' not in response.text
    assert 'inputmode="decimal"' in response.text
    assert 'value="2,5"' in response.text


def test_it_refuses_a_question_with_no_points(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("question_add", args=[exam.pk]),
        {"new-label": "Q", "new-max_points": "0"},
        headers={"HX-Request": "true"},
    )
    assert "Le nombre de points doit être positif." in response.text
    assert not exam.questions.exists()


def test_a_refused_question_keeps_what_was_typed_and_names_the_field(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("question_add", args=[exam.pk]),
        {"new-label": "Exercice 3 — Thalès", "new-max_points": "beaucoup", "new-criteria": "Rapport 3/5"},
        headers={"HX-Request": "true"},
    )
    text = html.unescape(response.text)
    assert "Points : " in text  # the error says which field
    assert 'value="Exercice 3 — Thalès"' in text and "Rapport 3/5</textarea>" in text
    assert 'value="beaucoup"' in text and 'aria-invalid="true"' in text
    # The input points to its error, which the list above the rows carries.
    assert 'aria-describedby="id_new-max_points_error"' in text and '<li id="id_new-max_points_error">Points : ' in text
    assert not exam.questions.exists()


def test_a_refused_change_of_a_row_keeps_that_row_as_typed(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    kept = QuestionFactory(exam=exam, label="Première", max_points=Decimal("2"))
    question = QuestionFactory(exam=exam, label="Ancien", max_points=Decimal("2"))
    prefix = f"q{question.pk}"
    response = owner_client.post(
        reverse("question_update", args=[exam.pk, question.pk]),
        {f"{prefix}-label": "Nouveau libellé", f"{prefix}-max_points": "-1", f"{prefix}-criteria": "c"},
        headers={"HX-Request": "true"},
    )
    text = html.unescape(response.text)
    assert "Points : Le nombre de points doit être positif." in text
    assert 'value="Nouveau libellé"' in text and 'value="Première"' in text
    question.refresh_from_db()
    assert (question.label, question.max_points) == ("Ancien", Decimal("2")) and kept.label == "Première"


def test_it_updates_a_question_inline(owner_client, teacher):
    question = QuestionFactory(exam=ExamFactory(owner=teacher), label="Ancien", max_points=Decimal("2"))
    prefix = f"q{question.pk}"
    response = owner_client.post(
        reverse("question_update", args=[question.exam_id, question.pk]),
        {f"{prefix}-label": "Nouveau", f"{prefix}-max_points": "3", f"{prefix}-criteria": "c"},
        headers={"HX-Request": "true"},
    )
    question.refresh_from_db()
    assert (question.label, question.max_points, question.criteria) == ("Nouveau", Decimal("3"), "c")
    assert "Total : 3 points" in response.text


def test_it_reorders_and_removes_questions(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    a, b, c = (QuestionFactory(exam=exam, label=label) for label in "ABC")
    owner_client.post(reverse("question_move", args=[exam.pk, c.pk]), {"direction": "up"})
    assert list(exam.questions.values_list("label", flat=True)) == ["A", "C", "B"]
    owner_client.post(reverse("question_move", args=[exam.pk, a.pk]), {"direction": "up"})
    assert list(exam.questions.values_list("label", flat=True)) == ["A", "C", "B"]
    owner_client.post(reverse("question_delete", args=[exam.pk, b.pk]))
    assert list(exam.questions.values_list("label", flat=True)) == ["A", "C"]


def test_it_locks_the_bareme_while_grading(owner_client, teacher):
    exam = ExamFactory(owner=teacher, status=Exam.Status.GRADING)
    response = owner_client.post(
        reverse("question_add", args=[exam.pk]),
        {"new-label": "Q", "new-max_points": "2"},
        headers={"HX-Request": "true"},
    )
    assert "Le barème ne peut pas changer pendant une correction." in response.text
    assert not Question.objects.exists()


def test_the_exam_page_shows_the_bareme(owner_client, teacher):
    exam = ExamFactory(owner=teacher, title="Géométrie")
    QuestionFactory(exam=exam, label="Pythagore")
    response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert response.status_code == 200
    assert "Géométrie" in response.text
    assert "Pythagore" in response.text


def test_the_rounding_step_is_written_in_the_pages_language(owner_client, teacher):
    exam = ExamFactory(owner=teacher, rounding_step=Decimal("0.5"))
    assert "arrondi 0,5" in owner_client.get(reverse("exam_detail", args=[exam.pk])).text
    owner_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "rounding 0.5" in owner_client.get(reverse("exam_detail", args=[exam.pk])).text


def test_htmx_never_settles_style_attributes_which_the_csp_forbids(owner_client, teacher):
    # htmx copies "style" between old and new elements of the same id while settling a swap:
    # under style-src 'self' every such write is a CSP violation (seen when the exam page
    # refreshes itself at the end of a job).
    exam = ExamFactory(owner=teacher)
    page = owner_client.get(reverse("exam_detail", args=[exam.pk])).text
    config = json.loads(html.unescape(re.search(r'<meta name="htmx-config" content=\'([^\']*)\'', page).group(1)))
    assert "style" not in config["attributesToSettle"]


@pytest.mark.parametrize(
    ("copies", "french", "english"),
    [
        (1, "jetons, 1 appel au modèle)", "tokens, 1 model call)"),
        (2, "jetons, 2 appels aux modèles)", "tokens, 2 model calls)"),
    ],
)
def test_the_estimate_counts_the_model_calls_in_the_pages_language(
    owner_client, teacher, llm_server, copies, french, english
):
    exam = exam_with_bareme(owner=teacher, questions=2)  # one model: one call a copy
    for number in range(copies):
        copy_with_pages(exam, pages=1, label=f"Élève {number}")
    url = reverse("exam_detail", args=[exam.pk])
    assert owner_client.get(url).context["estimate"].calls == copies
    assert french in html.unescape(owner_client.get(url).text)
    owner_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert english in html.unescape(owner_client.get(url).text)
