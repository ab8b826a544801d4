"""The exam page's progress line after a job that did not take every copy of the exam: a
calibration round, a selection, a partial launch, one copy graded again. The counters are the
job's; a sentence says where the whole exam stands, so « 3 copies traitées sur 3 » on a class
of 6 is never read as "everything is graded". A job of every copy keeps the plain line. Graded
through the views, the engine and the scripted server; the live event (progress_delta_html,
what progress_push sends) says the same as the page."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from grading.models import Calibration, Copy
from grading.selectors import progress_delta_html, progress_html
from tests.factories import allowance_leave
from tests.grading.helpers import copy_statuses, fractions_exam, room_for

pytestmark = pytest.mark.django_db

NAMES = ["Abel", "Basile", "Chloé", "Diane", "Emma", "Félix"]
SUMMARY = re.compile(r'<div id="progress-summary".*?</div>', re.S)


@pytest.fixture
def exam(teacher, llm_server):
    return fractions_exam(teacher, NAMES, title="Fractions", llm_server=llm_server)


def _words(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _line(client, exam, teacher, language: str = "fr") -> str:
    """The progress summary the exam page shows, checked against the live event's: a page that
    applied the event shows what a reload renders."""
    teacher.language = language
    teacher.save(update_fields=["language"])
    page = client.get(reverse("exam_detail", args=[exam.pk])).content.decode()
    shown = _words(SUMMARY.search(page).group())
    assert _words(SUMMARY.search(progress_delta_html(exam=exam)).group()) == shown
    assert _words(SUMMARY.search(progress_html(exam=exam, oob=False)).group()) == shown
    return shown


def _start(client, exam, capture, **data):
    with capture(execute=True):
        return client.post(reverse("exam_start", args=[exam.pk]), data)


def _ids(exam, *names: str) -> list[int]:
    return list(exam.copies.filter(student_label__in=names).values_list("pk", flat=True))


def test_a_calibration_round_says_the_rest_of_the_exam_is_still_to_grade(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks
):
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    calibration = Calibration.objects.get(exam=exam)
    form = {f"p-{c.pk}-{q.pk}": "2" for c in calibration.copies.all() for q in exam.questions.all()}
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("calibration_submit", args=[exam.pk]), form)
    assert copy_statuses(exam).count(Copy.Status.DONE) == 3

    line = _line(owner_client, exam, teacher)
    assert "Tour de calibration terminé : 3 copies traitées sur 3." in line
    assert "Sur les 6 copies de l'examen : 3 corrigées, 3 restent à corriger." in line
    assert "Correction terminée" not in line
    line = _line(owner_client, exam, teacher, "en")
    assert "Calibration round finished: 3 of 3 copies processed." in line
    assert "Of the exam's 6 copies: 3 graded, 3 still to grade." in line


def test_copies_set_aside_for_calibration_are_said_to_wait_for_the_teachers_grades(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks
):
    _start(owner_client, exam, django_capture_on_commit_callbacks, copy=_ids(exam, "Abel", "Basile"))
    owner_client.post(
        reverse("calibration_create", args=[exam.pk]), {"count": "3", "copy": _ids(exam, "Chloé", "Diane", "Emma")}
    )

    line = _line(owner_client, exam, teacher)
    assert "Correction terminée : 2 copies traitées sur 2." in line
    assert (
        "Sur les 6 copies de l'examen : 2 corrigées, 3 attendent vos notes de calibration, 1 reste à corriger." in line
    )
    line = _line(owner_client, exam, teacher, "en")
    assert "Of the exam's 6 copies: 2 graded, 3 await your calibration grades, 1 still to grade." in line


def test_one_copy_graded_again_is_told_against_the_whole_exam(
    owner_client, teacher, exam, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    _start(owner_client, exam, django_capture_on_commit_callbacks)
    # The boundary: a job of every copy says the plain line, nothing about the rest.
    line = _line(owner_client, exam, teacher)
    assert line.startswith("Correction terminée : 6 copies traitées sur 6. 6/6 6 terminées, 0 en échec")
    assert "de l'examen" not in line

    emma = exam.copies.get(student_label="Emma")
    with django_capture_on_commit_callbacks() as on_commit:  # started, its task not run yet
        owner_client.post(reverse("copy_regrade", args=[emma.pk]))
    line = _line(owner_client, exam, teacher)
    assert (
        "Correction en cours : 0 copie traitée sur 1. Sur les 6 copies de l'examen : 5 corrigées, 1 en cours." in line
    )
    with django_capture_on_commit_callbacks(execute=True):
        for callback in on_commit:  # its task, as a worker runs it
            callback()
    line = _line(owner_client, exam, teacher)
    assert "Correction terminée : 1 copie traitée sur 1. Sur les 6 copies de l'examen : 6 corrigées." in line
    line = _line(owner_client, exam, teacher, "en")
    assert "Grading finished: 1 of 1 copies processed. Of the exam's 6 copies: 6 graded." in line


def test_a_selection_of_all_copies_but_one_says_the_one_left(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks
):
    _start(owner_client, exam, django_capture_on_commit_callbacks, copy=_ids(exam, *NAMES[:5]))
    line = _line(owner_client, exam, teacher)
    assert (
        "Correction terminée : 5 copies traitées sur 5. "
        "Sur les 6 copies de l'examen : 5 corrigées, 1 reste à corriger." in line
    )


def test_a_partial_launch_says_the_copies_waiting_for_the_allowance(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks
):
    allowance_leave(teacher, room_for(exam, 2))
    with django_capture_on_commit_callbacks() as on_commit:  # started, its tasks not run yet
        owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})
    line = _line(owner_client, exam, teacher)
    assert (
        "Correction en cours : 0 copie traitée sur 2. "
        "Sur les 6 copies de l'examen : 2 en cours, 4 en attente d'allocation." in line
    )
    with django_capture_on_commit_callbacks(execute=True):
        for callback in on_commit:
            callback()
    # What the job gave back does not start a third copy.
    assert copy_statuses(exam) == ["done"] * 2 + ["deferred"] * 4

    line = _line(owner_client, exam, teacher)
    assert (
        "Correction terminée : 2 copies traitées sur 2. "
        "Sur les 6 copies de l'examen : 2 corrigées, 4 en attente d'allocation." in line
    )
    line = _line(owner_client, exam, teacher, "en")
    assert (
        "Grading finished: 2 of 2 copies processed. Of the exam's 6 copies: 2 graded, 4 waiting for allowance." in line
    )
