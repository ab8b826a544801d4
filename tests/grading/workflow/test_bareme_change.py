"""A barème changed after grading: the teacher chooses what becomes of the grades given, and
every view agrees with the barème as it is now (tests/grading/consistency.py)."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from grading import selectors
from grading.models import Copy, Grade, GradeEdit
from tests.factories import exam_with_bareme
from tests.grading.consistency import grades_everywhere

pytestmark = pytest.mark.django_db

D = Decimal


def _question_post(client, exam, question, *, max_points: str, label: str | None = None, **extra):
    data = {
        f"q{question.pk}-label": label or question.label,
        f"q{question.pk}-max_points": max_points,
        f"q{question.pk}-criteria": question.criteria,
        **extra,
    }
    return client.post(reverse("question_update", args=[exam.pk, question.pk]), data, headers={"HX-Request": "true"})


@pytest.fixture
def graded(teacher, grade_exam):
    """Q1 /4 and Q2 /6, step 0,5: Léa 3 and 6, Hugo 2,5 and 4, Zoé 4 and 0."""
    exam = exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5"))
    return grade_exam(exam, {"Léa": [3, 6], "Hugo": [2.5, 4], "Zoé": [4, 0]})


def test_changing_a_graded_questions_points_asks_first_and_changes_nothing(owner_client, graded):
    q1 = graded.questions.first()
    response = _question_post(owner_client, graded, q1, max_points="10")
    page = html.unescape(response.text)
    assert "« Exercice 1 » : 4 → 10 points." in page
    assert "3 copies sont déjà notées sur cette question" in page
    assert 'value="rescale"' in page and 'value="keep"' in page
    q1.refresh_from_db()
    assert q1.max_points == D("4")
    assert not GradeEdit.objects.exists()
    assert grades_everywhere(owner_client, graded)["Léa"] == ([D(3), D(6)], D(9))


@pytest.mark.parametrize(
    ("max_points", "french", "english"),
    [
        ("0.5", "4 → 0,50 point.", "4 → 0.50 points."),  # two decimals, as the grid writes them
        ("1", "4 → 1 point.", "4 → 1 point."),
        ("1.5", "4 → 1,50 point.", "4 → 1.50 points."),  # French keeps the singular below 2
        ("2", "4 → 2 points.", "4 → 2 points."),
        ("1000", "4 → 1000 points.", "4 → 1000 points."),
    ],
)
def test_the_new_maximum_agrees_points_with_it_in_each_language(
    owner_client, teacher, graded, max_points, french, english
):
    q1 = graded.questions.first()
    page = html.unescape(_question_post(owner_client, graded, q1, max_points=max_points).text)
    assert f"« Exercice 1 » : {french}" in page
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    page = html.unescape(_question_post(owner_client, graded, q1, max_points=max_points).text)
    assert f'"Exercice 1": {english}' in page


def test_rescaling_rounds_to_the_exams_step_half_up_and_every_view_agrees(owner_client, graded, teacher):
    q1 = graded.questions.first()
    response = _question_post(owner_client, graded, q1, max_points="10", on_grades="rescale")
    assert response.status_code == 200
    table = grades_everywhere(owner_client, graded)
    # 3/4 → 7,5/10 exactly; 2,5/4 → 6,25 → 6,5 (half up to the step); 4/4 (at the max) → 10/10.
    assert table == {
        "Hugo": ([D("6.5"), D(4)], D("10.5")),
        "Léa": ([D("7.5"), D(6)], D("13.5")),
        "Zoé": ([D(10), D(0)], D(10)),
    }
    hugo = Grade.objects.get(copy__student_label="Hugo", question=q1)
    assert (hugo.max_points, hugo.ai_points, hugo.edited, hugo.needs_review) == (D(10), D("6.5"), False, False)
    assert list(hugo.edits.values_list("user", "field", "action", "before", "after")) == [
        (teacher.pk, "max_points", "rescale", "4.00", "10"),
        (teacher.pk, "points", "rescale", "2.50", "6.50"),
    ]


def test_rescaling_down_never_rounds_a_grade_above_the_new_maximum(owner_client, graded):
    q2 = graded.questions.last()
    _question_post(owner_client, graded, q2, max_points="2,75", on_grades="rescale")
    table = grades_everywhere(owner_client, graded)
    # 6/6 → 2,75 would round up to 3 at step 0,5: it stays at 2,5, under the maximum.
    assert table["Léa"] == ([D(3), D("2.5")], D("5.5"))
    # 4/6 → 1,833… → 2.
    assert table["Hugo"] == ([D("2.5"), D(2)], D("4.5"))


def test_keeping_caps_grades_above_the_new_maximum_and_marks_them_to_review(owner_client, graded):
    q2 = graded.questions.last()
    _question_post(owner_client, graded, q2, max_points="4", on_grades="keep")
    table = grades_everywhere(owner_client, graded)
    # Léa's 6 is capped at 4, Hugo's 4 (exactly the new max) and Zoé's 0 are kept as they are.
    assert {s: cells for s, (cells, _t) in table.items()} == {
        "Hugo": [D("2.5"), D(4)],
        "Léa": [D(3), D(4)],
        "Zoé": [D(4), D(0)],
    }
    assert set(Grade.objects.filter(question=q2).values_list("needs_review", flat=True)) == {True}
    lea = Grade.objects.get(copy__student_label="Léa", question=q2)
    assert list(lea.edits.values_list("field", "action", "before", "after")) == [
        ("max_points", "keep", "6.00", "4"),
        ("points", "keep", "6.00", "4.00"),
    ]
    queue = selectors.review_get(exam=graded).queue
    assert {row.copy.student_label for row in queue} == {"Hugo", "Léa", "Zoé"}
    assert all("Barème modifié : note à revoir" in row.reasons for row in queue)


def test_the_teachers_points_settle_a_grade_left_to_review_even_unchanged(owner_client, graded):
    q2 = graded.questions.last()
    _question_post(owner_client, graded, q2, max_points="4", on_grades="keep")
    hugo = Grade.objects.get(copy__student_label="Hugo", question=q2)
    response = owner_client.post(
        reverse("grade_update", args=[hugo.pk]), {"points": "4"}, headers={"Accept": "application/json"}
    )
    assert response.json()["ok"]
    hugo.refresh_from_db()
    assert (hugo.points, hugo.needs_review) == (D(4), False)
    assert not hugo.edits.filter(field="points").exists()


def test_a_label_or_criteria_change_after_grading_asks_nothing(owner_client, graded):
    q1 = graded.questions.first()
    response = _question_post(owner_client, graded, q1, max_points="4,0", label="Résoudre l'équation")
    assert "bareme-choice" not in response.text
    q1.refresh_from_db()
    assert (q1.label, q1.max_points) == ("Résoudre l'équation", D(4))
    assert not GradeEdit.objects.exists()


def test_adding_a_question_after_grading_asks_then_gives_each_graded_copy_a_grade_to_fill(owner_client, graded):
    url = reverse("question_add", args=[graded.pk])
    data = {"new-label": "Bonus", "new-max_points": "2", "new-criteria": ""}
    response = owner_client.post(url, data, headers={"HX-Request": "true"})
    assert "Nouvelle question : Bonus (/2)." in html.unescape(response.text)
    assert graded.questions.count() == 2
    owner_client.post(url, {**data, "on_grades": "keep"}, headers={"HX-Request": "true"})
    table = grades_everywhere(owner_client, graded)
    assert table["Léa"] == ([D(3), D(6), D(0)], D(9))
    bonus = Grade.objects.filter(question__label="Bonus")
    assert bonus.count() == 3
    assert set(bonus.values_list("resolution", "needs_review")) == {(Grade.Resolution.PENDING, True)}
    assert not Copy.objects.filter(exam=graded, reviewed=True).exists()


def test_removing_a_graded_question_asks_then_takes_its_grades_out_of_the_totals(owner_client, graded):
    q2 = graded.questions.last()
    url = reverse("question_delete", args=[graded.pk, q2.pk])
    response = owner_client.post(url, headers={"HX-Request": "true"})
    assert "Retirer « Exercice 2 » enlève ses notes des totaux." in html.unescape(response.text)
    assert graded.questions.count() == 2
    owner_client.post(url, {"on_grades": "delete"}, headers={"HX-Request": "true"})
    assert grades_everywhere(owner_client, graded)["Léa"] == ([D(3)], D(3))


def test_without_htmx_the_choice_is_asked_on_the_exam_page(owner_client, graded):
    q1 = graded.questions.first()
    data = {f"q{q1.pk}-label": q1.label, f"q{q1.pk}-max_points": "10", f"q{q1.pk}-criteria": ""}
    response = owner_client.post(reverse("question_update", args=[graded.pk, q1.pk]), data)
    assert response.status_code == 200
    assert 'data-testid="bareme-choice"' in response.text
    assert f'name="q{q1.pk}-max_points" value="10"' in response.text


def test_an_ungraded_question_changes_freely(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    q1 = exam.questions.get()
    response = _question_post(owner_client, exam, q1, max_points="7")
    assert "bareme-choice" not in response.text
    q1.refresh_from_db()
    assert q1.max_points == D(7)


def test_the_database_refuses_a_grade_above_its_maximum(graded):
    grade = Grade.objects.filter(copy__exam=graded).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Grade.objects.filter(pk=grade.pk).update(points=grade.max_points + D("0.01"))
