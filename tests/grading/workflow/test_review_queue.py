"""The review queue in every mode, each entry with why it is there (blank answer, outlier
total, failed copy, low confidence…), and the grid's filters and sorts."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from grading.models import Copy
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def graded(teacher, grade_exam, llm_server):
    """Single mode, Q1 /4 and Q2 /6: seven copies at 2 + 3, Nina at 0 + 0 (far below the
    class), Bilal leaves Q1 blank (read with low confidence), and Raté's grading is refused by the provider."""
    exam = exam_with_bareme(owner=teacher, questions=2)
    copy_with_pages(exam, pages=1, label="Raté", text="copie de Raté")
    llm_server.script(fault="400", match="copie de Raté")
    blank = grades_json([0, 3], readings=["(no answer)", "x = 3"], confidence=0.4)
    llm_server.script(blank, match="copie de Bilal")
    copy_with_pages(exam, pages=1, label="Bilal", text="copie de Bilal")
    points = {f"Élève {n}": [2, 3] for n in range(1, 7)} | {"Nina": [0, 0]}
    return grade_exam(exam, points)


def _queue(client, exam) -> dict[str, str]:
    page = html.unescape(client.get(reverse("exam_review", args=[exam.pk])).text)
    section = page.split('id="queue-title"', 1)[1].split("</section>", 1)[0]
    return {name: reasons for name, reasons in re.findall(r"<li><a [^>]*>([^<]+)</a> — ([^<]+)</li>", section)}


def _grid(client, exam, **params) -> tuple[list[str], list[str]]:
    page = html.unescape(client.get(reverse("exam_review", args=[exam.pk]), params).text)
    grid = page.split("data-review-grid", 1)[1].split("</table>", 1)[0]
    names = re.findall(r'<th scope="row">\s*<a href="[^"]+">([^<]+)</a>', grid)
    headers = re.findall(r'<th scope="col" title="[^"]*"><a [^>]*>(Q\d+)</a>', grid)
    return names, headers


def test_the_queue_says_why_each_copy_is_there_in_single_mode(owner_client, graded):
    assert graded.mode == "single"
    assert graded.copies.get(student_label="Raté").status == Copy.Status.FAILED

    queue = _queue(owner_client, graded)

    assert set(queue) == {"Raté", "Bilal", "Nina"}
    assert queue["Bilal"] == "Confiance faible, Réponse blanche : Q1"
    assert queue["Nina"].startswith("Total éloigné de la classe : 0 pour une moyenne de 4,")
    assert queue["Raté"].startswith("Correction incomplète : Le modèle a refusé la requête")


def test_a_grade_the_teacher_changed_no_longer_queues_its_copy_for_its_confidence_or_blank(owner_client, graded):
    bilal = graded.copies.get(student_label="Bilal")
    q1, q2 = (bilal.grades.get(question__order=n) for n in (0, 1))

    owner_client.post(reverse("grade_update", args=[q1.pk]), {"points": "1"})  # the blank Q1, graded by her

    assert _queue(owner_client, graded)["Bilal"] == "Confiance faible"  # Q2's, still the engine's
    owner_client.post(reverse("grade_update", args=[q2.pk]), {"points": "2,5"})
    assert set(_queue(owner_client, graded)) == {"Raté", "Nina"}


def test_a_reviewed_copy_leaves_the_queue_and_the_a_revoir_filter(owner_client, graded):
    nina = graded.copies.get(student_label="Nina")
    owner_client.post(reverse("copy_reviewed", args=[nina.pk]), {"reviewed": "1"})

    assert set(_queue(owner_client, graded)) == {"Raté", "Bilal"}
    names, _headers = _grid(owner_client, graded, show="review")
    assert sorted(names) == ["Bilal", "Raté"]


def test_the_grid_filters_by_status_and_question_and_sorts(owner_client, graded):
    assert _grid(owner_client, graded, status="failed")[0] == ["Raté"]
    names, headers = _grid(owner_client, graded, question="2")
    assert headers == ["Q2"] and len(names) == 9
    page = owner_client.get(reverse("exam_review", args=[graded.pk]), {"question": "2"}).text
    assert page.count('class="grade-input"') == 8  # Raté has no grade
    by_total = _grid(owner_client, graded, sort="-total")[0]
    assert by_total[-2:] == ["Nina", "Raté"]  # lowest total last, ungraded after
    assert _grid(owner_client, graded, sort="total")[0][0] == "Nina"
    by_name = _grid(owner_client, graded, sort="name")[0]
    assert by_name[:3] == ["Bilal", "Élève 1", "Élève 2"] and by_name[-2:] == ["Nina", "Raté"]  # accents ignored
    assert _grid(owner_client, graded, sort="confidence")[0][0] == "Bilal"


def test_unknown_filters_are_ignored(owner_client, graded):
    names, headers = _grid(owner_client, graded, status="nope", question="7", sort="x")
    assert len(names) == 9 and headers == ["Q1", "Q2"]
