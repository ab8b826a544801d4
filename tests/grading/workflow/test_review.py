from __future__ import annotations

import html
from decimal import Decimal

import pytest
from django.urls import reverse

from grading import selectors
from grading.models import Exam, GradeEdit, ModelAnswer
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory

pytestmark = pytest.mark.django_db


def graded_exam(owner, *, copies: int = 3, questions: int = 2, **exam_fields):
    exam = ExamFactory(owner=owner, **exam_fields)
    qs = [QuestionFactory(exam=exam, max_points=Decimal("4"), order=i) for i in range(questions)]
    for n in range(copies):
        copy = CopyFactory(exam=exam, student_label=f"Élève {n:02d}")
        for q in qs:
            GradeFactory(copy=copy, question=q, points=Decimal(n % 5))
    return exam


def test_the_review_grid_shows_every_grade_and_total(owner_client, teacher):
    exam = graded_exam(teacher, copies=2, questions=2)
    response = owner_client.get(reverse("exam_review", args=[exam.pk]))
    rows = response.context["review"].rows
    assert [(r.copy.student_label, r.total) for r in rows] == [("Élève 00", Decimal(0)), ("Élève 01", Decimal(2))]
    assert response.text.count('class="grade-input"') == 4


def test_the_review_of_35_copies_and_10_questions_takes_a_constant_number_of_queries(
    owner_client, teacher, django_assert_max_num_queries
):
    exam = graded_exam(teacher, copies=35, questions=10)
    with django_assert_max_num_queries(10):
        response = owner_client.get(reverse("exam_review", args=[exam.pk]))
    assert response.text.count('class="grade-input"') == 350


def test_an_edit_is_saved_and_audited(owner_client, teacher):
    exam = graded_exam(teacher, copies=1, questions=1)
    grade = exam.copies.get().grades.get()
    response = owner_client.post(
        reverse("grade_update", args=[grade.pk]), {"points": "2,5"}, headers={"Accept": "application/json"}
    )
    assert response.json() == {"ok": True, "points": "2,5", "ai_points": "0", "edited": True, "total": "2,5"}
    grade.refresh_from_db()
    assert (grade.points, grade.ai_points, grade.edited) == (Decimal("2.5"), Decimal("0"), True)
    edit = GradeEdit.objects.get()
    assert (edit.user, edit.before, edit.after) == (teacher, "0.00", "2.5")
    # The copy's history shows the points as the grid does (French decimals, no trailing zeros).
    page = owner_client.get(reverse("copy_detail", args=[grade.copy_id])).text
    assert "0 → 2,5" in html.unescape(page)


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("5", "La note doit être entre 0 et 4."),
        ("-1", "La note doit être entre 0 et 4."),
        ("1,3", "La note doit être un multiple de 0,5."),
        ("abc", "Saisissez un nombre, par exemple 2,5."),
    ],
)
def test_it_refuses_points_out_of_range_or_off_the_step(owner_client, teacher, points, message):
    exam = graded_exam(teacher, copies=1, questions=1, rounding_step=Decimal("0.5"))
    grade = exam.copies.get().grades.get()
    response = owner_client.post(
        reverse("grade_update", args=[grade.pk]), {"points": points}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == message
    grade.refresh_from_db()
    assert grade.points == Decimal("0")
    assert not GradeEdit.objects.exists()


def test_the_ai_grade_can_be_restored(owner_client, teacher):
    exam = graded_exam(teacher, copies=2, questions=1)
    grade = exam.copies.get(student_label="Élève 01").grades.get()
    owner_client.post(reverse("grade_update", args=[grade.pk]), {"points": "3"})
    response = owner_client.post(reverse("grade_restore", args=[grade.pk]), headers={"Accept": "application/json"})
    assert response.json()["points"] == "1"
    grade.refresh_from_db()
    assert (grade.points, grade.edited) == (Decimal("1"), False)
    assert list(GradeEdit.objects.values_list("before", "after")) == [("1.00", "3"), ("3.00", "1.00")]


def test_the_queue_puts_manipulation_disagreement_and_low_confidence_first(teacher):
    exam = graded_exam(teacher, copies=4, questions=1)
    copies = {c.student_label: c for c in exam.copies.all()}
    copies["Élève 03"].flagged_manipulation = True
    copies["Élève 03"].save()
    g1 = copies["Élève 01"].grades.get()
    g1.disagreement, g1.confidence = True, 0.3
    g1.save()
    g2 = copies["Élève 02"].grades.get()
    g2.confidence = 0.4
    g2.save()
    queue = selectors.review_get(exam=exam).queue
    assert [row.copy.student_label for row in queue] == ["Élève 03", "Élève 01", "Élève 02"]


def test_a_reviewed_copy_leaves_the_queue(owner_client, teacher):
    exam = graded_exam(teacher, copies=1, questions=1)
    copy = exam.copies.get()
    copy.flagged_manipulation = True
    copy.save()
    owner_client.post(reverse("copy_reviewed", args=[copy.pk]), {"reviewed": "1"})
    copy.refresh_from_db()
    assert copy.reviewed
    assert selectors.review_get(exam=exam).queue == []


def test_statistics_and_histogram(teacher):
    exam = graded_exam(teacher, copies=5, questions=2)  # totals 0, 2, 4, 6, 8 over 8
    review = selectors.review_get(exam=exam)
    total = review.stats[-1]
    assert (total.mean, total.median, total.low, total.high) == (4.0, 4.0, Decimal(0), Decimal(8))
    assert round(total.stdev, 3) == 2.828
    assert [bar.count for bar in review.histogram] == [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]


def test_the_review_page_draws_the_histogram_as_inline_svg(owner_client, teacher):
    exam = graded_exam(teacher, copies=3, questions=1)
    text = owner_client.get(reverse("exam_review", args=[exam.pk])).text
    assert "<svg" in text
    assert text.count("<rect") == 10


def test_the_copy_page_shows_reading_feedback_and_both_models(owner_client, teacher):
    exam = graded_exam(teacher, copies=1, questions=1, mode=Exam.Mode.DOUBLE)
    copy = exam.copies.get()
    for role, model, points in (("a", "modele-a", 3), ("b", "modele-b", 1)):
        ModelAnswer.objects.create(
            copy=copy,
            phase="grading",
            role=role,
            model=model,
            parsed={"questions": [{"id": "q1", "points": points, "reasoning": f"avis {role}", "confidence": 0.7}]},
        )
    text = html.unescape(owner_client.get(reverse("copy_detail", args=[copy.pk])).text)
    assert "Bien, mais justifiez l'étape 2." in text
    assert "x = 3" in text
    assert "modele-a" in text and "modele-b" in text
    assert "avis a" in text and "avis b" in text


def test_a_student_can_be_renamed(owner_client, teacher):
    copy = CopyFactory(exam=ExamFactory(owner=teacher))
    owner_client.post(reverse("copy_rename", args=[copy.pk]), {"student_label": "Zoé Durand"})
    copy.refresh_from_db()
    assert copy.student_label == "Zoé Durand"
