from __future__ import annotations

import html
import re
from decimal import Decimal
from unittest.mock import ANY

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from grading import selectors
from grading.models import Copy, GradeEdit
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory, copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json

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


def test_the_grid_asks_the_same_number_of_queries_whatever_its_size(owner_client, teacher, grade_exam):
    counts = []
    for copies, questions in ((2, 2), (9, 6)):
        exam = exam_with_bareme(owner=teacher, questions=questions)
        grade_exam(exam, {f"Élève {n} sur {questions}": [1] * questions for n in range(copies)})
        with CaptureQueriesContext(connection) as queries:
            response = owner_client.get(reverse("exam_review", args=[exam.pk]))
        assert response.text.count('class="grade-input"') == copies * questions
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_grids_cells_say_what_was_edited_and_restore_the_ais_points(owner_client, teacher, grade_exam):
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=2), {"Léa": [1, 2.5]})
    grade = exam.copies.get().grades.get(question__order=1)
    owner_client.post(reverse("grade_update", args=[grade.pk]), {"points": "3"})

    page = owner_client.get(reverse("exam_review", args=[exam.pk])).text

    cells = re.findall(r'<td class="(cell[^"]*)">(.*?)</td>', page, re.S)
    assert [classes for classes, _html in cells] == ["cell", "cell edited"]
    first, second = (cell_html for _classes, cell_html in cells)
    assert 'value="1" data-saved="1"' in first and 'class="ai-points hidden"' in first
    assert 'value="3" data-saved="3"' in second and '<span class="ai-points">' in second
    assert "IA 2,5" in second
    assert f'action="{reverse("grade_restore", args=[grade.pk])}"' in second
    assert 'aria-label="Léa, question 2"' in html.unescape(second)
    assert 'name="csrfmiddlewaretoken"' in second
    # The cell's restore form puts the AI's points back, as on the copy page.
    owner_client.post(reverse("grade_restore", args=[grade.pk]))
    grade.refresh_from_db()
    assert grade.points == Decimal("2.5")


def test_an_edit_is_saved_and_audited(owner_client, teacher):
    exam = graded_exam(teacher, copies=1, questions=1)
    grade = exam.copies.get().grades.get()
    response = owner_client.post(
        reverse("grade_update", args=[grade.pk]), {"points": "2,5"}, headers={"Accept": "application/json"}
    )
    assert response.json() == {
        "ok": True,
        "points": "2,5",
        "ai_points": "0",
        "edited": True,
        "total": "2,5",
        "appreciation_stale": False,
        "grade": grade.pk,
        "feedback_stale_badge": ANY,
        "feedback_stale_warning": ANY,
    }
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
        ("NaN", "Saisissez un nombre, par exemple 2,5."),
        ("nan", "Saisissez un nombre, par exemple 2,5."),
        ("sNaN", "Saisissez un nombre, par exemple 2,5."),
        ("-NaN", "Saisissez un nombre, par exemple 2,5."),
        ("Infinity", "Saisissez un nombre, par exemple 2,5."),
        ("-inf", "Saisissez un nombre, par exemple 2,5."),
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


def test_a_non_finite_grade_is_refused_in_english_too(owner_client, teacher):
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    exam = graded_exam(teacher, copies=1, questions=1)
    grade = exam.copies.get().grades.get()
    response = owner_client.post(
        reverse("grade_update", args=[grade.pk]),
        {"points": "NaN"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "Enter a number, for example 2.5."
    assert not GradeEdit.objects.exists()


def test_a_non_finite_grade_posted_by_the_form_comes_back_with_the_message(owner_client, teacher):
    exam = graded_exam(teacher, copies=1, questions=1)
    grade = exam.copies.get().grades.get()
    response = owner_client.post(reverse("grade_update", args=[grade.pk]), {"points": "Infinity"}, follow=True)
    assert response.status_code == 200
    assert "Saisissez un nombre, par exemple 2,5." in html.unescape(response.text)
    grade.refresh_from_db()
    assert grade.points == Decimal("0")


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


def test_the_histogram_writes_each_bars_count_and_the_grid_explains_its_marks(owner_client, teacher):
    exam = graded_exam(teacher, copies=5, questions=1)  # totals 0, 1, 2, 3, 4 out of 4
    text = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk])).text)
    counts = re.findall(r'class="histogram-count">(\d+)</text>', text)
    assert sorted(int(c) for c in counts) == [1, 1, 1, 1, 1] and "nombre de copies par tranche de 2 points" in text
    legend = text.split('data-testid="grid-legend"', 1)[1].split("</p>", 1)[0]
    for mark in ("bord orange", "confiance faible", "note à revoir", "modifiée par vous"):
        assert mark in legend


def test_grading_a_graded_copy_again_replaces_its_grades(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy = copy_with_pages(exam, pages=1)
    llm_server.script(grades_json([1]))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]))
    llm_server.script(grades_json([3]))

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("copy_regrade", args=[copy.pk]), follow=True)

    assert "La copie est renvoyée à la correction : vos modifications seront gardées." in html.unescape(response.text)
    copy.refresh_from_db()
    assert (copy.status, copy.attempt) == (Copy.Status.DONE, 2)
    assert copy.grades.get().points == Decimal("3")


def test_a_copy_being_graded_is_not_sent_back(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=1)
    copy = copy_with_pages(exam, pages=1)  # queued: waiting for its job
    response = owner_client.post(reverse("copy_regrade", args=[copy.pk]), follow=True)
    assert "en cours de correction" in html.unescape(response.text)
    assert Copy.objects.get(pk=copy.pk).attempt == 0


def test_the_grid_lists_names_as_a_class_list_does_whatever_their_case_and_accents(owner_client, teacher, grade_exam):
    """PostgreSQL's collation may sort « dupont » after « Zoé » and « Léa » after « Lucas »."""
    exam = exam_with_bareme(owner=teacher, questions=1)
    grade_exam(exam, {name: [1] for name in ("Zoé", "dupont", "Lucas", "Léa", "Élise", "bernard")})

    page = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk])).text)
    rows = re.findall(r'<th scope="row">\s*<a href="[^"]+">([^<]+)</a>', page)
    assert rows == ["bernard", "dupont", "Élise", "Léa", "Lucas", "Zoé"]
    # The copy page's « Copie suivante » follows the same order.
    lea = exam.copies.get(student_label="Léa")
    copy_page = owner_client.get(reverse("copy_detail", args=[lea.pk])).text
    lucas = exam.copies.get(student_label="Lucas")
    assert f'href="{reverse("copy_detail", args=[lucas.pk])}">Copie suivante' in copy_page


def test_the_copy_page_says_the_confidence_in_words_and_points_as_the_grid_does(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=2)
    grade_exam(exam, {"Léa": [2.5, 4]}, confidence=0.84)
    copy = exam.copies.get()
    grade = copy.grades.get(question__order=0)
    owner_client.post(reverse("grade_update", args=[grade.pk]), {"points": "1,5"})

    page = html.unescape(owner_client.get(reverse("copy_detail", args=[copy.pk])).text)
    assert re.findall(r'data-testid="confidence">([^<]+)<', page) == ["moyenne", "moyenne"]
    assert 'value="1,5" data-saved="1,5"' in page and "IA 2,5" in page
    assert "1,50" not in page and "2,50" not in page
    grid = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk])).text)
    assert 'value="1,5"' in grid and "IA 2,5" in grid
    assert f'id="total-{copy.pk}">5,5<' in grid  # the total too, never « 5,50 »


def test_the_grid_filtered_to_one_question_shows_that_questions_histogram(owner_client, teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=2)  # Q1 /4, Q2 /6
    grade_exam(exam, {"Léa": [4, 0], "Hugo": [4, 0], "Zoé": [0, 6]})

    def counts(query: str) -> dict[str, int]:
        text = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk]) + query).text)
        bars = re.findall(r"<title>([^<]+) : (\d+)</title>", text)
        return {label: int(count) for label, count in bars if int(count)}

    assert counts("") == {"8–10": 2, "12–14": 1}  # totals 4, 4, 6 out of 10: 8, 8, 12 on /20
    assert counts("?question=1") == {"0–2": 1, "18–20": 2}
    assert counts("?question=2") == {"0–2": 2, "18–20": 1}
    page = html.unescape(owner_client.get(reverse("exam_review", args=[exam.pk]) + "?question=2").text)
    assert "Répartition des notes de Q2, ramenées sur 20" in page
