"""Identical readings grouped on the grade-by-question page (case, accents, spaces and the
writing of numbers ignored) and one grade for a group: checked against the maximum and the
exam's step before anything is stored, each change audited like a points edit."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from grading.models import GradeEdit
from grading.selectors import reading_key
from tests.factories import exam_with_bareme
from tests.grading.consistency import grades_everywhere

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("x = 3,50", "X=3.5"),
        ("x = 3,5", " x  =  03,5 "),
        ("Le triangle est ISOCÈLE", "le triangle est isocele"),
        ("1 000 €", "1000 €"),
        ("2,0 cm", "2 cm"),
        ("(no answer)", "(pas de réponse)"),
        ("(no answer)", ""),
    ],
)
def test_readings_written_alike_have_the_same_key(first, second):
    assert reading_key(first) == reading_key(second)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("x = 3,5", "x = 4"),
        ("3,5", "35"),
        ("x = 3,05", "x = 3,5"),
        ("le triangle", "le rectangle"),
        ("(no answer)", "0"),
    ],
)
def test_different_answers_have_different_keys(first, second):
    assert reading_key(first) != reading_key(second)


# Q1 (/4) as each student wrote it, and its points; Q2 is read differently by everyone.
Q1 = {
    "Léa": ("x = 3,50", 3),
    "Hugo": ("X=3.5", 2.5),
    "Zoé": (" x = 03,5 ", 3),
    "Inès": ("x = 4", 1),
    "Bilal": ("(no answer)", 0),
    "Nina": ("(pas de réponse)", 0),
}


@pytest.fixture
def graded(teacher, grade_exam):
    exam = exam_with_bareme(owner=teacher, questions=2, rounding_step=D("0.5"))
    return grade_exam(
        exam,
        {name: [points, 2] for name, (_reading, points) in Q1.items()},
        each={name: {"readings": [reading, f"Réponse de {name}"]} for name, (reading, _points) in Q1.items()},
    )


def _page(client, exam, question=None):
    question = question or exam.questions.get(order=0)
    return html.unescape(client.get(reverse("question_review", args=[exam.pk, question.pk])).text)


def _groups(page: str) -> list[tuple[str, str, str]]:
    """Each group's reading, students and current points, as shown."""
    groups = page.split('data-testid="group"')[1:]
    found = []
    for group in groups:
        reading = re.search(r'data-testid="group-reading">(.*?)</blockquote>', group, re.S).group(1)
        students = re.search(r'data-testid="group-students">(.*?)</p>', group, re.S).group(1)
        points = re.search(r'data-testid="group-points">(.*?)</p>', group, re.S).group(1)
        found.append((reading.strip(), students.strip(), " ".join(points.split())))
    return found


def _group_ids(page: str, number: int) -> list[str]:
    form = page.split(f'id="group-{number}"', 1)[1].split("</form>", 1)[0]
    return re.findall(r'name="grades" value="(\d+)"', form)


def _group_grade(client, exam, number: int, points: str, *, also: tuple[int, ...] = ()) -> str:
    """Posts one grade for group `number` as its form does (with `also`: more grade ids), and
    returns the page it comes back to."""
    q1 = exam.questions.get(order=0)
    grades = _group_ids(_page(client, exam), number) + [str(pk) for pk in also]
    response = client.post(
        reverse("question_group_grade", args=[exam.pk, q1.pk]), {"grades": grades, "points": points}, follow=True
    )
    return html.unescape(response.text)


def test_identical_readings_are_grouped_largest_first(owner_client, graded):
    page = _page(owner_client, graded)
    assert _groups(page) == [
        ("X=3.5", "Hugo, Léa, Zoé", "Notes actuelles : 2,5 (1), 3 (2)"),
        ("Réponse blanche", "Bilal, Nina", "Notes actuelles : 0 (2)"),
    ]
    # Each row says its group; Inès's answer is alone.
    rows = re.findall(r'<th scope="row">\s*<a [^>]*>([^<]+)</a>\s*(?:<a class="badge"[^>]*>([^<]+)</a>)?', page)
    assert dict(rows) == {
        "Bilal": "Groupe 2",
        "Hugo": "Groupe 1",
        "Inès": "",
        "Léa": "Groupe 1",
        "Nina": "Groupe 2",
        "Zoé": "Groupe 1",
    }
    # Q2's readings all differ: no group.
    assert 'data-testid="group"' not in _page(owner_client, graded, graded.questions.get(order=1))


def test_one_grade_for_the_group_is_stored_for_each_answer_and_audited(owner_client, teacher, graded):
    assert "Note du groupe enregistrée : 3 réponses modifiées." in _group_grade(owner_client, graded, 1, "3,5")
    q1 = graded.questions.get(order=0)
    points = dict(q1.grades.values_list("copy__student_label", "points"))
    assert points == {"Léa": D("3.5"), "Hugo": D("3.5"), "Zoé": D("3.5"), "Inès": D(1), "Bilal": D(0), "Nina": D(0)}
    edits = GradeEdit.objects.order_by("grade__copy__student_label")
    assert [(e.grade.copy.student_label, e.user, e.action, e.before, e.after) for e in edits] == [
        ("Hugo", teacher, "edit", "2.50", "3.50"),
        ("Léa", teacher, "edit", "3.00", "3.50"),
        ("Zoé", teacher, "edit", "3.00", "3.50"),
    ]
    table = grades_everywhere(owner_client, graded)
    assert table["Hugo"] == ([D("3.5"), D(2)], D("5.5"))
    assert _groups(_page(owner_client, graded))[0][2] == "Notes actuelles : 3,5 (3)"


def test_the_blank_groups_grade_already_given_changes_nothing(owner_client, graded):
    assert "Ces réponses avaient déjà cette note." in _group_grade(owner_client, graded, 2, "0")
    assert not GradeEdit.objects.exists()


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ("4,5", "La note doit être entre 0 et 4."),
        ("-0,5", "La note doit être entre 0 et 4."),
        ("3,25", "La note doit être un multiple de 0,5."),
        ("trois", "Saisissez un nombre, par exemple 2,5."),
        ("NaN", "Saisissez un nombre, par exemple 2,5."),
    ],
)
def test_a_group_grade_off_the_maximum_or_the_step_is_refused_and_nothing_is_stored(
    owner_client, graded, points, message
):
    assert message in _group_grade(owner_client, graded, 1, points)
    q1 = graded.questions.get(order=0)
    assert sorted(q1.grades.values_list("points", flat=True)) == [D(0), D(0), D(1), D("2.5"), D(3), D(3)]
    assert not GradeEdit.objects.exists()


def test_a_group_grade_at_the_maximum_is_taken(owner_client, graded):
    _group_grade(owner_client, graded, 1, "4")
    q1 = graded.questions.get(order=0)
    assert sorted(q1.grades.values_list("points", flat=True)) == [D(0), D(0), D(1), D(4), D(4), D(4)]


def test_another_questions_grades_posted_with_a_group_are_left_alone(owner_client, graded):
    q1, q2 = graded.questions.order_by("order")
    _group_grade(owner_client, graded, 1, "1", also=tuple(q2.grades.values_list("pk", flat=True)))
    assert set(q2.grades.values_list("points", flat=True)) == {D(2)}
    assert GradeEdit.objects.filter(grade__question=q1).count() == 3
    assert not GradeEdit.objects.filter(grade__question=q2).exists()
