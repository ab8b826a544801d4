"""Double correction side by side: both graders' points, readings and reasoning per question,
what the verification round did, and the teacher taking A's points, B's or their mean (keys
a, b, m in the grid), each pick audited like a points edit.

The copy is graded through the scripted server (tests/grading/double_correction.py), step 0,5:
q1 (/4) A 3, B 3,25, agreed at once (the engine's mean 3,125 → 3);
q2 (/6) A 2, B 5, disputed on the points, verified A 3, B 4,5, still apart: mean 3,75 → 4.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from unittest.mock import ANY

import pytest
from django.urls import reverse

from grading.models import Copy, Exam, GradeEdit
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.consistency import grades_everywhere
from tests.grading.double_correction import GRADER_A, GRADER_B, READINGS, REASONINGS, VERIFIED, script_two_graders

pytestmark = pytest.mark.django_db

D = Decimal
JSON = {"Accept": "application/json"}


@pytest.fixture
def double(owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks):
    """The double-corrected copy of Chloé, graded through the start view."""
    exam = exam_with_bareme(owner=teacher, mode=Exam.Mode.DOUBLE, questions=2, rounding_step=D("0.5"))
    copy = copy_with_pages(exam, pages=1, label="Chloé")
    script_two_graders(llm_server)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]))
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE
    return copy


def _grades(copy):
    return list(copy.grades.order_by("question__order"))


def _pick(client, grade, choice: str):
    return client.post(reverse("grade_pick", args=[grade.pk]), {"choice": choice}, headers=JSON)


def test_picking_grader_b_on_a_disagreement_takes_its_verified_points_and_is_audited(owner_client, teacher, double):
    q1, q2 = _grades(double)
    assert (q1.points, q2.points, q2.disagreement) == (D(3), D(4), True)

    response = _pick(owner_client, q2, "b")

    assert response.json() == {
        "ok": True,
        "points": "4,5",
        "ai_points": "4",
        "edited": True,
        "total": "7,5",
        "appreciation_stale": False,
        "grade": q2.pk,
        "feedback_stale_badge": ANY,
        "feedback_stale_warning": ANY,
    }
    q2.refresh_from_db()
    assert (q2.points, q2.ai_points, q2.edited) == (D("4.5"), D(4), True)
    edit = GradeEdit.objects.get()
    assert (edit.grade, edit.user, edit.field, edit.action, edit.before, edit.after) == (
        q2,
        teacher,
        "points",
        GradeEdit.Action.EDIT,
        "4.00",
        "4.50",
    )
    assert grades_everywhere(owner_client, double.exam)["Chloé"] == ([D(3), D("4.5")], D("7.5"))


def test_a_then_the_mean_each_audited_and_the_mean_is_the_engines_grade(owner_client, double):
    _q1, q2 = _grades(double)
    assert _pick(owner_client, q2, "a").json()["points"] == "3"
    mean = _pick(owner_client, q2, "mean").json()
    assert (mean["points"], mean["edited"], mean["total"]) == ("4", False, "7")
    # Taking what the grade already is changes nothing and writes nothing.
    assert _pick(owner_client, q2, "mean").json()["points"] == "4"
    assert list(GradeEdit.objects.values_list("before", "after")) == [("4.00", "3.00"), ("3.00", "4.00")]


def test_on_an_agreed_question_b_is_rounded_to_the_step_and_the_mean_is_the_grade(owner_client, double):
    q1, _q2 = _grades(double)
    # B said 3,25: on a step of 0,5 it is taken as 3,5 (half up, as the engine rounds).
    assert _pick(owner_client, q1, "b").json()["points"] == "3,5"
    assert _pick(owner_client, q1, "mean").json()["points"] == "3"


def test_the_form_without_javascript_says_what_was_taken(owner_client, double):
    _q1, q2 = _grades(double)
    response = owner_client.post(reverse("grade_pick", args=[q2.pk]), {"choice": "b"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("copy_detail", args=[double.pk]) + f"#question-{q2.question_id}"
    assert "Note du correcteur B retenue : 4,5." in html.unescape(response.text)


def test_an_unknown_choice_is_refused_and_nothing_is_stored(owner_client, double):
    _q1, q2 = _grades(double)
    response = _pick(owner_client, q2, "c")
    assert response.status_code == 400
    assert response.json()["error"] == "Choisissez le correcteur A, le correcteur B ou leur moyenne."
    q2.refresh_from_db()
    assert q2.points == D(4) and not GradeEdit.objects.exists()


def test_a_single_corrected_grade_has_nothing_to_pick(owner_client, teacher, grade_exam):
    exam = grade_exam(exam_with_bareme(owner=teacher, questions=1), {"Léa": [2]})
    grade = exam.copies.get().grades.get()
    response = _pick(owner_client, grade, "a")
    assert response.status_code == 400
    assert response.json()["error"] == "Cette note ne vient pas d'une double correction : saisissez-la."
    assert not GradeEdit.objects.exists()
    page = owner_client.get(reverse("exam_review", args=[exam.pk])).text
    assert "data-pick" not in page and "Double correction : a prend" not in page


def test_another_teachers_grade_cannot_be_picked(client, double, other_teacher):
    _q1, q2 = _grades(double)
    client.force_login(other_teacher)
    assert _pick(client, q2, "b").status_code == 404
    q2.refresh_from_db()
    assert q2.points == D(4)


@pytest.mark.parametrize(
    ("maximum", "picks"),
    [
        # /6 → /12: A 3 → 6, B 4,5 → 9, their mean 7,5 (exact).
        ("12", {"a": "6", "b": "9", "mean": "7,5"}),
        # /6 → /3: A 1,5, B 2,25 → 2,5 (half up), mean 1,875 → 2; never above the new maximum.
        ("3", {"a": "1,5", "b": "2,5", "mean": "2"}),
    ],
)
def test_after_a_rescaled_bareme_each_pick_is_on_the_new_maximum(owner_client, double, maximum, picks):
    exam = double.exam
    question = exam.questions.get(order=1)
    owner_client.post(
        reverse("question_update", args=[exam.pk, question.pk]),
        {
            f"q{question.pk}-label": question.label,
            f"q{question.pk}-max_points": maximum,
            f"q{question.pk}-criteria": "",
            "on_grades": "rescale",
        },
        headers={"HX-Request": "true"},
    )
    _q1, q2 = _grades(double)
    assert q2.max_points == D(maximum)
    for choice, points in picks.items():
        assert _pick(owner_client, q2, choice).json()["points"] == points
    assert grades_everywhere(owner_client, exam)["Chloé"][0][1] == D(picks["mean"].replace(",", "."))


def _side(article: str, slot: str) -> str:
    side = article.split(f'data-testid="side-{slot}">', 1)[1].split("</form>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", side).split())


def test_the_copy_page_shows_both_graders_side_by_side_with_the_verification_outcome(owner_client, double):
    page = html.unescape(owner_client.get(reverse("copy_detail", args=[double.pk])).text)
    first, second = page.split('<article class="card answer')[1:3]

    assert "Accord dès la première correction : vérification inutile." in first
    a, b = _side(first, "a"), _side(first, "b")
    assert a.startswith(f"Correcteur A · {GRADER_A} 3 / 4 · confiance élevée")
    assert b.startswith(f"Correcteur B · {GRADER_B} 3,25 / 4 · confiance élevée")
    assert READINGS["a"][0] in a and REASONINGS["a"][0] in a and READINGS["b"][0] in b and REASONINGS["b"][0] in b
    assert "Après vérification" not in first
    assert a.endswith("Prendre A : 3") and b.endswith("Prendre B : 3,5")

    assert "Désaccord sur les points, toujours en désaccord après la vérification : la moyenne est proposée." in second
    a, b = _side(second, "a"), _side(second, "b")
    assert f"Correcteur B · {GRADER_B} 5 / 6 · confiance élevée" in b and READINGS["b"][1] in b
    for side, slot, points in ((a, "a", "3"), (b, "b", "4,5")):
        _points, reading, reasoning = VERIFIED[slot]
        assert f"Après vérification {points} / 6 · confiance moyenne Lecture {reading} Raisonnement {reasoning}" in side
    assert "Prendre la moyenne : 4" in second
    # The grade is the mean: that button is the one outlined; no grader's side is.
    assert re.search(r'class="small primary" data-testid="pick-mean"', second)
    assert 'class="side side-a picked"' not in second and 'class="side side-b picked"' not in second
    assert "a prend la note du correcteur A, b celle du correcteur B, m leur moyenne" in second


def test_after_picking_b_the_page_outlines_b_and_the_history_has_the_edit(owner_client, double):
    _q1, q2 = _grades(double)
    _pick(owner_client, q2, "b")
    page = html.unescape(owner_client.get(reverse("copy_detail", args=[double.pk])).text)
    second = page.split('<article class="card answer')[2]
    assert 'class="side side-b picked"' in second
    # As the grid and the message write it (« 4,5 », never « 4,50 » beside it).
    assert re.search(r'value="4,5"\s+data-saved="4,5"', second)
    history = page.split("Historique des modifications", 1)[1]
    assert "Exercice 2 : 4 → 4,5" in history


def test_the_grid_lets_keys_pick_on_double_corrected_cells_and_says_so(owner_client, double):
    q1, q2 = _grades(double)
    page = html.unescape(owner_client.get(reverse("exam_review", args=[double.exam_id])).text)
    for grade in (q1, q2):
        assert f'data-pick="{reverse("grade_pick", args=[grade.pk])}"' in page
    assert "Double correction : a prend la note du correcteur A, b celle du correcteur B, m leur moyenne" in page
