"""The job-finished email after a job that did not take every copy of the exam (a calibration
round, a selection, a partial launch) says where the whole exam stands with the exam page's own
sentence (selectors.progress), so « 3 copies corrigées sur 3 » on a class of 6 is never read as
"the exam is graded"; a job of every copy keeps the plain email. One copy the teacher sends back
from its page sends none: that page says how it went. Launched through the views, graded through
the engine and the scripted LLM server, in the teacher's language."""

from __future__ import annotations

import html
import re
from contextlib import contextmanager

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from grading.models import Calibration, Copy
from grading.selectors import progress_html
from tests.factories import allowance_leave
from tests.grading.helpers import copy_statuses, fractions_exam, room_for

pytestmark = pytest.mark.django_db

NAMES = ["Abel", "Basile", "Chloé", "Diane", "Emma", "Félix"]
SUBJECTS = {
    "fr": ("Correction terminée", "Tour de calibration terminé"),
    "en": ("Grading finished", "Calibration round"),
}


@pytest.fixture
def exam(teacher, llm_server):
    return fractions_exam(teacher, NAMES, title="Fractions", llm_server=llm_server)


def _speaks(teacher, language: str) -> None:
    teacher.language = language
    teacher.save(update_fields=["language"])


def _finished(language: str) -> list[tuple[str, str]]:
    """The job-finished emails (subject, body on one line), in order."""
    return [(m.subject, " ".join(m.body.split())) for m in mail.outbox if m.subject.startswith(SUBJECTS[language])]


def _page_sentence(exam) -> str:
    """The exam page's sentence of where the whole exam stands (its own language: the owner's)."""
    found = re.search(r'<span data-testid="progress-exam">(.*?)</span>', progress_html(exam=exam, oob=False))
    return html.unescape(found.group(1)) if found else ""


@contextmanager
def _graded(capture, language: str):
    """The requests inside, then their tasks as a worker runs them, in a language other than
    the teacher's: the email is worded in theirs, whatever the process speaks."""
    with capture() as on_commit:
        yield
    with capture(execute=True), translation.override({"fr": "en", "en": "fr"}[language]):
        for callback in on_commit:
            callback()


def _start(client, exam, capture, language: str, **data) -> None:
    with _graded(capture, language):
        assert client.post(reverse("exam_start", args=[exam.pk]), data).status_code == 302


def _ids(exam, *names: str) -> list[int]:
    return list(exam.copies.filter(student_label__in=names).values_list("pk", flat=True))


ROUND = {
    "fr": (
        "Tour de calibration terminé : Fractions",
        "Le tour de calibration de « Fractions » est terminé : 3 copies corrigées sur 3. "
        "Sur les 6 copies de l'examen : 3 corrigées, 3 restent à corriger.",
    ),
    "en": (
        "Calibration round finished: Fractions",
        'The calibration round of "Fractions" is finished: 3 of 3 copies graded. '
        "Of the exam's 6 copies: 3 graded, 3 still to grade.",
    ),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_calibration_round_says_the_rest_of_the_exam_is_still_to_grade(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks, language
):
    _speaks(teacher, language)
    owner_client.post(reverse("calibration_create", args=[exam.pk]), {"count": "3"})
    calibration = Calibration.objects.get(exam=exam)
    form = {f"p-{c.pk}-{q.pk}": "2" for c in calibration.copies.all() for q in exam.questions.all()}
    with _graded(django_capture_on_commit_callbacks, language):
        owner_client.post(reverse("calibration_submit", args=[exam.pk]), form)
    assert copy_statuses(exam).count(Copy.Status.DONE) == 3

    [(subject, body)] = _finished(language)
    assert subject == ROUND[language][0]
    assert ROUND[language][1] in body
    assert _page_sentence(exam) in body  # the page's words, not counted again


PLAIN = {
    "fr": (
        "Correction terminée : Fractions",
        "La correction de « Fractions » est terminée : 6 copies corrigées sur 6.",
    ),
    "en": ("Grading finished: Fractions", 'Grading of "Fractions" is finished: 6 of 6 copies graded.'),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_job_of_every_copy_keeps_the_plain_email_and_one_copy_graded_again_sends_none(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks, language
):
    _speaks(teacher, language)
    _start(owner_client, exam, django_capture_on_commit_callbacks, language)
    # The boundary: a job of every copy says it all, nothing about the rest of the exam.
    [(subject, body)] = _finished(language)
    assert (subject, PLAIN[language][1] in body) == (PLAIN[language][0], True)
    assert "de l'examen" not in body and "exam's" not in body and _page_sentence(exam) == ""

    emma = exam.copies.get(student_label="Emma")
    attempt = emma.attempt
    with _graded(django_capture_on_commit_callbacks, language):
        owner_client.post(reverse("copy_regrade", args=[emma.pk]))
    emma.refresh_from_db()
    assert (emma.status, emma.attempt, emma.job.status) == (Copy.Status.DONE, attempt + 1, "finished")
    assert emma.job.created_by == teacher and teacher.notify_job_finished  # not the opt-out
    assert len(_finished(language)) == 1  # its page says it, no « correction terminée »


SELECTED = {
    "fr": "Cette correction de « Fractions » est terminée : 1 copie corrigée sur 1. "
    "Sur les 6 copies de l'examen : 1 corrigée, 5 restent à corriger.",
    "en": 'This grading run of "Fractions" is finished: 1 of 1 copies graded. '
    "Of the exam's 6 copies: 1 graded, 5 still to grade.",
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_one_copy_launched_from_the_exam_page_is_emailed_against_the_whole_exam(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks, language
):
    # One copy, as a regrade, but chosen on the exam page: the teacher may have left it.
    _speaks(teacher, language)
    _start(owner_client, exam, django_capture_on_commit_callbacks, language, copy=_ids(exam, "Abel"))
    [(subject, body)] = _finished(language)
    assert subject == PLAIN[language][0]
    assert SELECTED[language] in body and _page_sentence(exam) in body


PARTIAL = {
    "fr": (
        "Sur les 6 copies de l'examen : 2 corrigées, 4 en attente d'allocation.",
        "4 copies attendent que votre allocation le permette.",
    ),
    "en": (
        "Of the exam's 6 copies: 2 graded, 4 waiting for allowance.",
        "4 copies are waiting for your allowance.",
    ),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_partial_launch_says_the_exam_and_the_copies_waiting_for_the_allowance(
    owner_client, teacher, exam, eager_celery, django_capture_on_commit_callbacks, language
):
    _speaks(teacher, language)
    allowance_leave(teacher, room_for(exam, 2))
    _start(owner_client, exam, django_capture_on_commit_callbacks, language, partial="1")
    assert copy_statuses(exam) == ["done"] * 2 + ["deferred"] * 4
    [(_subject, body)] = _finished(language)
    exam_sentence, waiting = PARTIAL[language]
    assert exam_sentence in body and waiting in body and _page_sentence(exam) in body
