"""Demo mode's « classe de démonstration » (issue 17, item 4): an exam with its barème and eight
generated copies, graded by the demo server reading each copy's text layer against the barème's
criteria — readings taken from the copies, grades that follow them, the same on every run."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from grading.models import Copy, Exam, Grade
from grading.services.demo import DEMO_STUDENTS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


@pytest.fixture
def demo_mode(llm_server, settings):
    """Demo mode as `make run` sets it: no provider, every role answered by the demo server."""
    settings.CORRIGO_DEMO_MODE = True
    settings.CORRIGO_DEMO_LLM_URL = llm_server.url
    settings.CORRIGO_LLM = {}
    return llm_server


@pytest.fixture
def demo_class(owner_client, demo_mode, eager_celery, django_capture_on_commit_callbacks):
    """Creates a demonstration class through the dashboard's button; its pages rendered by the tasks."""

    def create() -> Exam:
        before = set(Exam.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            response = owner_client.post(reverse("demo_class"))
        assert response.status_code == 302
        return Exam.objects.exclude(pk__in=before).get()

    return create


@pytest.fixture
def graded(owner_client, django_capture_on_commit_callbacks):
    def grade(exam: Exam) -> Exam:
        with django_capture_on_commit_callbacks(execute=True):
            owner_client.post(reverse("exam_start", args=[exam.pk]))
        assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
        return exam

    return grade


def _grades(exam: Exam) -> dict[tuple[str, int], Grade]:
    grades = Grade.objects.filter(copy__exam=exam).select_related("copy", "question")
    return {(grade.copy.student_label, grade.question.order): grade for grade in grades}


def test_the_dashboard_offers_the_demo_class_only_in_demo_mode(owner_client, settings):
    settings.CORRIGO_DEMO_MODE = False
    assert 'data-testid="demo-class"' not in owner_client.get(reverse("dashboard")).text
    assert owner_client.post(reverse("demo_class")).status_code == 404
    assert not Exam.objects.exists()

    settings.CORRIGO_DEMO_MODE = True
    assert 'data-testid="demo-class"' in owner_client.get(reverse("dashboard")).text


def test_the_demo_class_has_a_bareme_a_subject_and_eight_copies_with_their_text(owner_client, teacher, demo_class):
    exam = demo_class()

    assert exam.owner == teacher and exam.subject_file
    assert exam.questions.count() == 4
    assert sum(q.max_points for q in exam.questions.all()) == Decimal(20)
    assert all(q.criteria for q in exam.questions.all())
    copies = list(exam.copies.order_by("pk"))
    assert [copy.student_label for copy in copies] == [student.name for student in DEMO_STUDENTS]
    for copy in copies:
        pages = list(copy.pages.order_by("index"))
        assert len(pages) == 2
        assert f"Nom : {copy.student_label}" in pages[0].text and "Exercice 1" in pages[0].text
        assert "Exercice 4" in pages[1].text
        assert copy.read_name == copy.student_label  # the name read on the copy, as the demo server reads it
    page = owner_client.get(reverse("exam_detail", args=[exam.pk]))
    assert 'data-testid="step-grading" data-state="todo"' in page.text


def test_grading_the_demo_class_reads_each_copy_and_grades_what_it_says(demo_class, graded):
    exam = graded(demo_class())
    grades = _grades(exam)
    assert len(grades) == 8 * 4

    for (label, _order), grade in grades.items():
        text = "\n".join(grade.copy.pages.values_list("text", flat=True))
        assert "(simulée)" not in grade.reading and "lecture simulée" not in grade.reading
        if grade.reading != "(pas de réponse)":
            # Every line of the reading is on the copy.
            assert all(line in text for line in grade.reading.splitlines()), (label, grade.reading)
        assert "Correction simulée" in grade.reasoning
        assert "(simulé)" in grade.feedback
    totals = {label: sum(g.points for (name, _o), g in grades.items() if name == label) for label, _ in grades}
    assert totals["Léa Martin"] >= Decimal(18) > totals["Inès Dubois"] > totals["Lucas Petit"]
    assert grades[("Léa Martin", 1)].points == 6 and "10 cm" in grades[("Léa Martin", 1)].reading
    # Inès added numerators and denominators: nothing of the expected answer, 0 and said why.
    inès = grades[("Inès Dubois", 0)]
    assert inès.points == 0 and "8/10" in inès.reading and "19/12" in inès.reasoning
    assert grades[("Lucas Petit", 3)].reading == "(pas de réponse)" and grades[("Lucas Petit", 3)].points == 0
    # The copy that writes to the grader is graded normally and flagged.
    assert exam.copies.get(student_label="Yanis Garcia").flagged_manipulation
    assert not exam.copies.get(student_label="Léa Martin").flagged_manipulation


def test_the_demo_grades_are_the_same_on_every_run(demo_class, graded):
    first, second = _grades(graded(demo_class())), _grades(graded(demo_class()))

    assert first.keys() == second.keys()
    for key, grade in first.items():
        again = second[key]
        assert (grade.points, grade.reading, grade.feedback, grade.confidence) == (
            again.points,
            again.reading,
            again.feedback,
            again.confidence,
        ), key
