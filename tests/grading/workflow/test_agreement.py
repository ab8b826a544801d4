"""« Accord IA / enseignant »: every teacher edit of an AI grade is a data point. Exams graded
through the start view and the scripted server, then edited through the review's views; the
exam page, the dashboard and the JSON export show the same figures."""

from __future__ import annotations

import html
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from grading import selectors
from tests.factories import exam_with_bareme

pytestmark = pytest.mark.django_db

# Two questions out of 4 and 6 (step 0.5): what the AI gives each student.
AI = {"Léa": [3, 4], "Hugo": [2, 5], "Zoé": [1, 6], "Noé": [4, 0.5], "Inès": [0, 3]}


def _edit(client, exam, student: str, question: int, points: str):
    grade = exam.copies.get(student_label=student).grades.get(question__order=question)
    client.post(reverse("grade_update", args=[grade.pk]), {"points": points})
    return grade


@pytest.fixture
def edited_exam(owner_client, teacher, grade_exam):
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=2, title="Fractions"), AI)
    _edit(owner_client, exam, "Léa", 0, "2,5")  # 0.5 off
    _edit(owner_client, exam, "Hugo", 1, "3")  # 2 off
    _edit(owner_client, exam, "Noé", 1, "1")  # 0.5 off
    # Changed, then put back as the AI gave it: left as the AI graded it.
    grade = _edit(owner_client, exam, "Zoé", 0, "3")
    owner_client.post(reverse("grade_restore", args=[grade.pk]))
    # Changed twice: one data point, the last value (4 off the AI's 0, then 1).
    _edit(owner_client, exam, "Inès", 0, "4")
    _edit(owner_client, exam, "Inès", 0, "1")
    # The feedback, not the points: still left as the AI graded it.
    feedback = exam.copies.get(student_label="Léa").grades.get(question__order=1)
    owner_client.post(reverse("grade_feedback", args=[feedback.pk]), {"feedback": "Très bien."})
    # A question added after grading: graded by nobody but the teacher, never counted.
    owner_client.post(
        reverse("question_add", args=[exam.pk]),
        {"new-label": "Bonus", "new-max_points": "2", "new-criteria": "", "on_grades": "keep"},
    )
    assert exam.questions.count() == 3
    _edit(owner_client, exam, "Léa", 2, "2")
    return exam


def test_the_exam_page_shows_the_share_left_as_graded_and_the_gap_per_question(owner_client, edited_exam):
    response = owner_client.get(reverse("exam_detail", args=[edited_exam.pk]))
    agreement = response.context["agreement"]
    # 10 AI grades; changed: Léa q1 (0.5), Inès q1 (1), Hugo q2 (2), Noé q2 (0.5).
    assert (agreement.overall.graded, agreement.overall.kept, agreement.overall.changed) == (10, 6, 4)
    assert agreement.overall.kept_share == 0.6
    assert agreement.overall.mean_gap == Decimal("1.00")  # (0.5 + 1 + 2 + 0.5) / 4
    q1, q2, bonus = agreement.questions
    assert (q1.figures.graded, q1.figures.kept, q1.figures.mean_gap) == (5, 3, Decimal("0.75"))
    assert (q2.figures.graded, q2.figures.kept, q2.figures.mean_gap) == (5, 3, Decimal("1.25"))
    assert (bonus.figures.graded, bonus.figures.kept_share, bonus.figures.mean_gap) == (0, None, None)
    text = " ".join(html.unescape(response.text).split())
    assert "Accord IA / enseignant" in text
    assert "60 % des notes laissées telles que l'IA les a données (6 sur 10 notes de l'IA)." in text
    assert "Écart moyen sur les 4 notes modifiées : 1 point." in text
    assert "1. Exercice 1</th> <td>5</td> <td>60 %</td> <td>2</td> <td>0,75</td>" in text
    assert "2. Exercice 2</th> <td>5</td> <td>60 %</td> <td>2</td> <td>1,25</td>" in text
    assert "3. Bonus</th> <td>0</td> <td>—</td> <td>0</td> <td>—</td>" in text


def test_an_exam_without_ai_grades_shows_no_agreement(owner_client, teacher):
    exam = exam_with_bareme(owner=teacher, questions=2)
    response = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert response.context["agreement"].overall.graded == 0
    assert "Accord IA / enseignant" not in response.text


def test_one_edit_exactly_back_to_the_ais_points_counts_as_left(owner_client, teacher, grade_exam):
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=1), {"Léa": [2.5]})
    grade = _edit(owner_client, exam, "Léa", 0, "3")
    assert selectors.exam_agreement(exam=exam).overall.changed == 1
    _edit(owner_client, exam, "Léa", 0, "2,5")
    figures = selectors.exam_agreement(exam=exam).overall
    assert (figures.kept, figures.changed, figures.mean_gap) == (1, 0, None)
    assert grade.edits.count() == 2  # both edits audited; the figure reads where they left it


def test_the_dashboard_shows_each_exam_and_the_recent_ones_together(
    owner_client, teacher, grade_exam, edited_exam, monkeypatch
):
    older = grade_exam(exam_with_bareme(owner=teacher, questions=2, title="Aires"), {"Yanis": [2, 2]})
    older.created_at = edited_exam.created_at.replace(year=edited_exam.created_at.year - 1)
    older.save(update_fields=["created_at"])
    _edit(owner_client, older, "Yanis", 0, "3")  # 1 off: 1 changed of 2

    response = owner_client.get(reverse("dashboard"))
    by_title = {exam.title: exam.agreement for exam, _average in response.context["rows"]}
    assert (by_title["Fractions"].kept, by_title["Fractions"].graded) == (6, 10)
    assert (by_title["Aires"].kept, by_title["Aires"].graded, by_title["Aires"].mean_gap) == (1, 2, Decimal("1.00"))
    recent = response.context["recent_agreement"]
    # Both exams: 7 of 12 left; gaps 0.5 + 1 + 2 + 0.5 + 1 over 5 changed.
    assert (recent.kept, recent.graded, recent.mean_gap) == (7, 12, Decimal("1.00"))
    text = " ".join(html.unescape(response.text).split())
    assert "sur vos 2 dernières corrections : 58 % des notes laissées telles que l'IA les a données (7 sur 12)." in text
    # Mean gaps with two decimals, as every mean is written (« 1,00 », not « 1 » beside « 1,25 »).
    assert text.count("(écart 1,00)") == 2
    page = " ".join(html.unescape(owner_client.get(reverse("exam_detail", args=[older.pk])).text).split())
    assert "1. Exercice 1</th> <td>1</td> <td>0 %</td> <td>1</td> <td>1,00</td>" in page

    # Only the most recent exams count: with a window of one, the older exam is left out.
    monkeypatch.setattr("grading.selectors.agreement.RECENT_EXAMS", 1)
    response = owner_client.get(reverse("dashboard"))
    recent = response.context["recent_agreement"]
    assert (recent.kept, recent.graded, response.context["recent_agreement_exams"]) == (6, 10, 1)
    assert "sur votre dernière correction : 60 %" in " ".join(html.unescape(response.text).split())


def test_the_json_export_carries_the_figures(owner_client, edited_exam):
    data = json.loads(owner_client.get(reverse("exam_export", args=[edited_exam.pk, "json"])).content)
    agreement = data["agreement"]
    assert {key: agreement[key] for key in ("ai_grades", "kept", "changed", "kept_share", "mean_gap_changed")} == {
        "ai_grades": 10,
        "kept": 6,
        "changed": 4,
        "kept_share": 0.6,
        "mean_gap_changed": "1.00",
    }
    questions = {line["question"]: line for line in agreement["questions"]}
    first = data["questions"][0]["id"]
    assert (questions[first]["changed"], questions[first]["mean_gap_changed"]) == (2, "0.75")
    bonus = data["questions"][2]["id"]
    assert (questions[bonus]["ai_grades"], questions[bonus]["kept_share"]) == (0, None)


@pytest.mark.parametrize(
    ("points", "french", "english"),
    [("3", "2,50 points", "2.50 points"), ("2", "1,50 point", "1.50 points"), ("1,5", "1 point", "1 point")],
)
def test_the_gap_agrees_point_as_each_language_does(owner_client, teacher, grade_exam, points, french, english):
    # French keeps « point » singular below 2, English only for exactly one.
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=1), {"Léa": [0.5]})
    _edit(owner_client, exam, "Léa", 0, points)

    def pages(language: str) -> tuple[str, str]:
        teacher.language = language
        teacher.save(update_fields=["language"])
        return tuple(
            " ".join(html.unescape(owner_client.get(reverse(name, args=args)).content.decode()).split())
            for name, args in (("exam_detail", [exam.pk]), ("dashboard", []))
        )

    exam_page, dashboard = pages("fr")
    assert f"Écart moyen sur la note modifiée : {french}." in exam_page
    assert f"Écart moyen sur les notes modifiées : {french}." in dashboard
    exam_page, dashboard = pages("en")
    assert f"Mean gap on the changed grade: {english}." in exam_page
    assert f"Mean gap on changed grades: {english}." in dashboard
