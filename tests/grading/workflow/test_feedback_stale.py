"""The engine's feedback beside points the teacher changed (issue 12: « Très bien. » printed next
to 1,5/4): « à revoir » in the grid and on the copy page, left out of the tables, Pronote's
file and the annotated PDF until the teacher edits it or keeps it (one click, audited); the
review and exports pages say how many comments are left out."""

from __future__ import annotations

import csv
import html
import io
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from grading.models import GradeEdit
from tests.factories import exam_with_bareme
from tests.grading.helpers import grades_json

pytestmark = pytest.mark.django_db

D = Decimal
PRAISE = "Très bien."


@pytest.fixture
def graded(teacher, grade_exam):
    """Q1 /4 and Q2 /6, step 0,5: Léa 4 (« Très bien. ») and 3, Hugo 2 and 5, graded by the engine."""
    exam = exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5"))
    return grade_exam(exam, {"Léa": [4, 3], "Hugo": [2, 5]}, feedbacks=[PRAISE, "Justifie le calcul."])


def _lea_q1(exam):
    return exam.copies.get(student_label="Léa").grades.get(question__order=0)


def _points(client, grade, value: str):
    return client.post(
        reverse("grade_update", args=[grade.pk]), {"points": value}, headers={"Accept": "application/json"}
    )


def _lea_csv_feedback(client, exam) -> str:
    body = client.get(reverse("exam_export", args=[exam.pk, "csv"])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";"))
    return next(row for row in rows if row[0] == "Léa")[-1]


def _page(client, name: str, *args) -> str:
    return html.unescape(client.get(reverse(name, args=args)).text)


def test_lowered_points_leave_the_ais_praise_to_review_and_out_of_every_export(owner_client, graded):
    grade = _lea_q1(graded)
    assert _lea_csv_feedback(owner_client, graded) == f"Q1 : {PRAISE}\nQ2 : Justifie le calcul."

    assert _points(owner_client, grade, "1,5").json()["ok"]

    # The grid flags the cell (and only it) with a link to the answer on the copy page.
    grid = _page(owner_client, "exam_review", graded.pk)
    assert grid.count('data-testid="feedback-stale"') == 1
    assert f'href="{reverse("copy_detail", args=[grade.copy_id])}#question-{grade.question_id}"' in grid
    assert "1 commentaire de l'IA à revoir (points changés par vous) n'est ni exporté" in grid
    page = _page(owner_client, "copy_detail", grade.copy_id)
    assert page.count('data-testid="feedback-stale"') == 1 and "Garder le commentaire" in page
    # Not printed beside 1,5/4: CSV, XLSX, Pronote's file, the annotated PDF; the JSON says why.
    assert _lea_csv_feedback(owner_client, graded) == "Q2 : Justifie le calcul."
    sheet = load_workbook(io.BytesIO(owner_client.get(reverse("exam_export", args=[graded.pk, "xlsx"])).content)).active
    lea = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "Léa")
    assert (lea[1], lea[-1]) == (1.5, "Q2 : Justifie le calcul.")
    pronote = owner_client.get(reverse("exam_export_pronote", args=[graded.pk, "csv"])).content.decode("utf-8-sig")
    assert "Léa;9;Justifie le calcul.\r\n" in pronote and f"Hugo;14;{PRAISE} Justifie le calcul." in pronote
    annotated = owner_client.get(reverse("copy_annotated", args=[grade.copy_id])).content
    text = "".join(p.get_textpage().get_text_bounded() for p in pdfium.PdfDocument(annotated))
    assert PRAISE not in text and "Justifie le calcul." in text
    exported = owner_client.get(reverse("exam_export", args=[graded.pk, "json"])).json()
    lea_q1 = next(c for c in exported["copies"] if c["student"] == "Léa")["grades"][0]
    assert (lea_q1["feedback"], lea_q1["feedback_stale"]) == (PRAISE, True)
    assert "1 commentaire de l'IA à revoir" in _page(owner_client, "exam_exports", graded.pk)
    # Hugo's grades, untouched, keep their comments.
    assert "Hugo" in grid and "Q1 : Très bien." in owner_client.get(
        reverse("exam_export", args=[graded.pk, "csv"])
    ).content.decode("utf-8-sig")


def test_keeping_the_comment_is_one_audited_click_and_a_new_points_change_asks_again(owner_client, teacher, graded):
    grade = _lea_q1(graded)
    _points(owner_client, grade, "1,5")

    response = owner_client.post(
        reverse("grade_feedback", args=[grade.pk]), {"keep": "1", "feedback": PRAISE}, follow=True
    )

    assert "Commentaire de l'IA gardé" in html.unescape(response.text)
    assert 'data-testid="feedback-stale"' not in response.text
    grade.refresh_from_db()
    assert (grade.feedback, grade.feedback_kept) == (PRAISE, True)
    edit = GradeEdit.objects.get(field="feedback_kept")
    assert (edit.user, edit.action, edit.before, edit.after) == (teacher, "edit", "0", "1")
    assert _lea_csv_feedback(owner_client, graded) == f"Q1 : {PRAISE}\nQ2 : Justifie le calcul."
    assert "commentaire de l'IA à revoir" not in _page(owner_client, "exam_review", graded.pk)
    # Kept twice: one audit entry.
    owner_client.post(reverse("grade_feedback", args=[grade.pk]), {"keep": "1"})
    assert GradeEdit.objects.filter(field="feedback_kept").count() == 1

    _points(owner_client, grade, "1")  # kept beside 1,5, not beside 1

    assert _lea_csv_feedback(owner_client, graded) == "Q2 : Justifie le calcul."
    grade.refresh_from_db()
    assert grade.feedback_kept is False


def test_points_back_to_the_ais_value_or_an_edited_feedback_are_not_stale(owner_client, graded):
    grade = _lea_q1(graded)
    _points(owner_client, grade, "3,5")
    assert _lea_csv_feedback(owner_client, graded) == "Q2 : Justifie le calcul."

    _points(owner_client, grade, "4")  # the AI's points again

    assert _lea_csv_feedback(owner_client, graded) == f"Q1 : {PRAISE}\nQ2 : Justifie le calcul."
    assert 'data-testid="feedback-stale"' not in _page(owner_client, "exam_review", graded.pk)

    _points(owner_client, grade, "2")
    owner_client.post(reverse("grade_feedback", args=[grade.pk]), {"feedback": "Bien commencé, conclusion fausse."})

    assert _lea_csv_feedback(owner_client, graded) == "Q1 : Bien commencé, conclusion fausse.\nQ2 : Justifie le calcul."
    assert 'data-testid="feedback-stale"' not in _page(owner_client, "copy_detail", grade.copy_id)
    # The AI's text restored while the points still differ: to review again.
    owner_client.post(reverse("grade_feedback", args=[grade.pk]), {"restore": "1"})
    assert _lea_csv_feedback(owner_client, graded) == "Q2 : Justifie le calcul."


def test_an_ai_grade_without_feedback_is_never_stale(owner_client, teacher, grade_exam):
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=1), {"Léa": [4]}, feedbacks=[""])
    _points(owner_client, exam.copies.get().grades.get(), "1")
    assert 'data-testid="feedback-stale"' not in _page(owner_client, "exam_review", exam.pk)
    assert "commentaire de l'IA à revoir" not in _page(owner_client, "exam_exports", exam.pk)


def test_the_grid_flags_stale_comments_with_the_same_number_of_queries_whatever_its_size(
    owner_client, teacher, grade_exam
):
    counts = []
    for copies in (2, 7):
        exam = grade_exam(
            exam_with_bareme(owner=teacher, questions=2), {f"Élève {n} sur {copies}": [3, 4] for n in range(copies)}
        )
        for copy in exam.copies.all():
            _points(owner_client, copy.grades.get(question__order=0), "1")
        with CaptureQueriesContext(connection) as queries:
            grid = owner_client.get(reverse("exam_review", args=[exam.pk])).text
        assert grid.count('data-testid="feedback-stale"') == copies
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_kept_comment_is_asked_again_when_a_new_grading_brings_another_one(
    owner_client, graded, llm_server, django_capture_on_commit_callbacks
):
    grade = _lea_q1(graded)
    _points(owner_client, grade, "1,5")
    owner_client.post(reverse("grade_feedback", args=[grade.pk]), {"keep": "1"})
    llm_server.script(grades_json([3, 3], feedbacks=["Presque juste.", "Justifie le calcul."]), match="copie de Léa")

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("copy_regrade", args=[grade.copy_id]), {})

    grade.refresh_from_db()
    # The teacher's 1,5 stays; the engine's new comment has not been kept by anyone.
    assert (grade.points, grade.ai_points, grade.feedback, grade.feedback_kept) == (
        D("1.5"),
        D(3),
        "Presque juste.",
        False,
    )
    assert _lea_csv_feedback(owner_client, graded) == "Q2 : Justifie le calcul."


def test_the_edit_answers_with_the_badge_and_the_warning_a_reload_would_show(owner_client, graded):
    """review.js puts them in place at once (tests/browser/test_feedback_stale_live.py)."""
    grade = _lea_q1(graded)

    lowered = _points(owner_client, grade, "1,5").json()

    assert lowered["grade"] == grade.pk
    grid = _page(owner_client, "exam_review", graded.pk)
    badge = html.unescape(lowered["feedback_stale_badge"])
    assert 'data-testid="feedback-stale"' in badge and badge in grid  # the very cell's badge
    warning = html.unescape(lowered["feedback_stale_warning"])
    assert "Garder le commentaire" in warning and warning.strip() in _page(owner_client, "copy_detail", grade.copy_id)

    restored = owner_client.post(reverse("grade_restore", args=[grade.pk]), headers={"Accept": "application/json"})

    assert (restored.json()["feedback_stale_badge"], restored.json()["feedback_stale_warning"]) == ("", "")


def test_the_edit_answers_in_the_teachers_language(owner_client, teacher, graded):
    teacher.language = "en"
    teacher.save()
    answer = _points(owner_client, _lea_q1(graded), "1").json()
    assert "Comment to review" in answer["feedback_stale_badge"]
    assert "Keep the comment" in answer["feedback_stale_warning"]


def test_the_warning_a_points_edit_puts_in_place_is_announced(owner_client, graded):
    """review.js fills the slot without a reload: a live region tells a screen reader's user."""
    grade = _lea_q1(graded)

    page = _page(owner_client, "copy_detail", grade.copy_id)

    assert f'<div data-feedback-stale-slot="{grade.pk}" aria-live="polite">' in page
