"""Grade by question: one question across all copies with each student's reading, points,
confidence and the part of the page it was read on; sorted; answers marked reviewed together
(audited); linked from the grid's question headers and the exam page; its query count does not
grow with the class."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grading.models import Exam, GradeEdit
from tests.factories import exam_with_bareme
from tests.grading.double_correction import script_two_graders

pytestmark = pytest.mark.django_db

D = Decimal

# Q1 (/4): points, confidence; Léa's answer was read on page 1 between 30 % and 50 % of its height.
CLASS = {
    "Léa": (3, 0.9),
    "Hugo": (2.5, 0.5),
    "Zoé": (3, 0.7),
    "Inès": (1, 0.3),
    "Bilal": (0, 0.8),
}


@pytest.fixture
def graded(teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5"))
    each = {
        name: {"readings": [f"Réponse {n} à Q1", f"Réponse {n} à Q2"], "confidence": confidence}
        for n, (name, (_points, confidence)) in enumerate(CLASS.items())
    }
    each["Léa"]["places"] = [{"page": 1, "top": 0.3, "bottom": 0.5}, {}]
    return grade_exam(exam, {name: [points, 2] for name, (points, _c) in CLASS.items()}, each=each)


def _url(exam, order=0):
    return reverse("question_review", args=[exam.pk, exam.questions.get(order=order).pk])


def _rows(client, exam, **params) -> list[dict[str, str]]:
    page = html.unescape(client.get(_url(exam), params).text)
    rows = []
    for row in page.split('data-testid="answer"')[1:]:
        rows.append(
            {
                "name": re.search(r'<th scope="row">\s*<a [^>]*>([^<]+)</a>', row).group(1),
                "reading": re.search(r'data-testid="reading">(.*?)</td>', row, re.S).group(1).strip(),
                "points": re.search(r'class="grade-input"\s+value="([^"]*)"', row).group(1),
                "confidence": re.search(r'data-testid="confidence" title="([^"]+)">([^<]+)<', row).groups(),
                "crop": (re.search(r'<svg viewBox="([^"]+)"', row) or re.search("()", "")).group(1),
                "reviewed": 'badge badge-done">Revue<' in row,
            }
        )
    return rows


def test_each_students_reading_points_confidence_and_page(owner_client, graded):
    rows = _rows(owner_client, graded)
    assert [(r["name"], r["reading"], r["points"], r["confidence"]) for r in rows] == [
        ("Bilal", "Réponse 4 à Q1", "0", ("0,80", "moyenne")),
        ("Hugo", "Réponse 1 à Q1", "2,5", ("0,50", "faible")),
        ("Inès", "Réponse 3 à Q1", "1", ("0,30", "faible")),
        ("Léa", "Réponse 0 à Q1", "3", ("0,90", "élevée")),
        ("Zoé", "Réponse 2 à Q1", "3", ("0,70", "moyenne")),
    ]
    crops = {r["name"]: r["crop"] for r in rows}
    # Léa's answer: 26 % to 54 % of a 200 × 280 page (its span and a margin); the others said
    # nowhere: their whole first page.
    assert crops["Léa"] == "0 73 200 78"
    assert crops["Hugo"] == "0 0 200 280"
    page = owner_client.get(_url(graded)).text
    lea = graded.copies.get(student_label="Léa")
    assert f'href="{reverse("page_image", args=[lea.pk, 1])}"' in page
    assert reverse("copy_detail", args=[lea.pk]) + f"#question-{graded.questions.get(order=0).pk}" in page


@pytest.mark.parametrize(
    ("sort", "names"),
    [
        ("points", ["Bilal", "Inès", "Hugo", "Léa", "Zoé"]),
        ("-points", ["Léa", "Zoé", "Hugo", "Inès", "Bilal"]),
        ("confidence", ["Inès", "Hugo", "Zoé", "Bilal", "Léa"]),
        ("nope", ["Bilal", "Hugo", "Inès", "Léa", "Zoé"]),
    ],
)
def test_answers_sort_by_points_or_confidence(owner_client, graded, sort, names):
    assert [r["name"] for r in _rows(owner_client, graded, sort=sort)] == names


def test_the_keys_are_documented_on_the_page(owner_client, graded):
    page = html.unescape(owner_client.get(_url(graded)).text)
    assert "j ou ↓ réponse suivante, k ou ↑ réponse précédente" in page
    assert "x coche la réponse pour « Marquer la sélection comme revue »" in page
    assert "Double correction : a prend" not in page


def _mark(client, exam, names=(), order=0, **extra):
    question = exam.questions.get(order=order)
    pks = [str(question.grades.get(copy__student_label=name).pk) for name in names]
    return client.post(reverse("question_reviewed", args=[exam.pk, question.pk]), {"grades": pks, **extra}, follow=True)


def test_ticked_answers_are_marked_reviewed_each_audited(owner_client, teacher, graded):
    response = _mark(owner_client, graded, ["Léa", "Hugo"])
    assert "2 réponses marquées comme revues." in html.unescape(response.text)
    edits = GradeEdit.objects.order_by("grade__copy__student_label")
    assert [(e.grade.copy.student_label, e.user, e.field, e.before, e.after) for e in edits] == [
        ("Hugo", teacher, "reviewed", "0", "1"),
        ("Léa", teacher, "reviewed", "0", "1"),
    ]
    rows = _rows(owner_client, graded)
    assert [r["name"] for r in rows if r["reviewed"]] == ["Hugo", "Léa"]
    assert "2 réponses revues sur 5" in html.unescape(owner_client.get(_url(graded)).text)
    assert [r["name"] for r in _rows(owner_client, graded, show="todo")] == ["Bilal", "Inès", "Zoé"]
    # Marked again: nothing new in the audit.
    assert "Ces réponses étaient déjà marquées comme revues." in html.unescape(
        _mark(owner_client, graded, ["Léa"]).text
    )
    assert GradeEdit.objects.count() == 2
    # The copy page's history says it.
    page = html.unescape(owner_client.get(reverse("copy_detail", args=[edits[0].grade.copy_id])).text)
    assert "Exercice 1 : réponse marquée comme revue" in page


def test_a_copy_whose_every_answer_is_reviewed_is_reviewed(owner_client, graded):
    _mark(owner_client, graded, all="1")
    assert not graded.copies.filter(reviewed=True).exists()  # Q2 is still to review
    _mark(owner_client, graded, ["Inès"], order=1)
    assert list(graded.copies.filter(reviewed=True).values_list("student_label", flat=True)) == ["Inès"]
    response = _mark(owner_client, graded, order=1, all="1")
    assert "4 réponses marquées comme revues." in html.unescape(response.text)
    assert graded.copies.filter(reviewed=False).count() == 0
    assert GradeEdit.objects.filter(field="reviewed").count() == 10


def test_nothing_ticked_says_so(owner_client, graded):
    assert "Cochez au moins une réponse." in html.unescape(_mark(owner_client, graded).text)
    assert not GradeEdit.objects.exists()


def test_an_answer_kept_after_a_bareme_change_is_to_review_again(owner_client, graded):
    _mark(owner_client, graded, all="1")
    question = graded.questions.get(order=0)
    owner_client.post(
        reverse("question_update", args=[graded.pk, question.pk]),
        {f"q{question.pk}-label": question.label, f"q{question.pk}-max_points": "8", "on_grades": "keep"},
        headers={"HX-Request": "true"},
    )
    assert not any(r["reviewed"] for r in _rows(owner_client, graded))
    assert "5 réponses marquées comme revues." in html.unescape(_mark(owner_client, graded, all="1").text)
    assert not question.grades.filter(needs_review=True).exists()


def test_the_page_asks_the_same_number_of_queries_whatever_the_class_size(owner_client, teacher, grade_exam):
    counts = []
    for size in (2, 8):
        exam = exam_with_bareme(owner=teacher, questions=2)
        names = [f"Élève {n} sur {size}" for n in range(size)]
        grade_exam(exam, {name: [1, 2] for name in names}, each={names[0]: {"places": [{"page": 1, "top": 0.1}, {}]}})
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(_url(exam))
        assert response.text.count('data-testid="answer"') == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_grids_question_headers_and_the_exam_page_link_to_it(owner_client, graded):
    q1, q2 = graded.questions.order_by("order")
    grid = owner_client.get(reverse("exam_review", args=[graded.pk])).text
    assert f'<a href="{reverse("question_review", args=[graded.pk, q2.pk])}"' in grid
    first = reverse("question_review_first", args=[graded.pk])
    assert f'href="{first}"' in owner_client.get(reverse("exam_detail", args=[graded.pk])).text
    assert owner_client.get(first).url == reverse("question_review", args=[graded.pk, q1.pk])
    # From one question to the next.
    page = owner_client.get(_url(graded)).text
    assert f'href="{reverse("question_review", args=[graded.pk, q2.pk])}" data-testid="next-question"' in page


def test_an_exam_without_questions_has_no_page_to_open(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=0)
    assert owner_client.get(reverse("question_review_first", args=[exam.pk])).status_code == 404


def test_in_double_correction_each_answer_shows_what_a_b_and_m_take(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    from tests.factories import copy_with_pages

    exam = exam_with_bareme(owner=teacher, mode=Exam.Mode.DOUBLE, questions=2, rounding_step=D("0.5"))
    copy = copy_with_pages(exam, pages=1, label="Chloé")
    script_two_graders(llm_server)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]))
    page = html.unescape(owner_client.get(_url(exam, order=1)).text)
    assert re.search(r'data-testid="double-picks">A 3 · B 4,5 · moyenne 4<', page)
    grade = copy.grades.get(question__order=1)
    assert f'data-pick="{reverse("grade_pick", args=[grade.pk])}"' in page
    assert "Double correction : a prend la note du correcteur A, b celle du correcteur B, m leur moyenne." in page
