"""A school's pool is shared: a colleague's job that ends (finished or cancelled) gives back what
it held and did not spend, and a teacher's copies waiting on that pool start by themselves
(services.deferred.released_resume_soon). The exam page says it in one note naming the school
and its admin (grading.services.waiting). Through the real views, the engine (tasks run eagerly on
commit) and the scripted LLM server."""

from __future__ import annotations

import html
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from grading.models import GradingJob
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import copy_statuses, room_for
from usage.models import Reservation
from usage.selectors import usage_summary

pytestmark = pytest.mark.django_db

RESUMED = "Correction reprise : Contrôle de fractions"


@pytest.fixture
def exam(school_teacher):
    exam = exam_with_bareme(owner=school_teacher, questions=2, title="Contrôle de fractions")
    for name in ("Ada", "Béa", "Cid"):
        copy_with_pages(exam, pages=1, label=name, text=f"copie de {name}")
    return exam


@pytest.fixture
def colleague_exam(colleague):
    exam = exam_with_bareme(owner=colleague, questions=2, title="Devoir du collègue")
    copy_with_pages(exam, pages=1, label="Zoé", text="copie de Zoé")
    return exam


@pytest.fixture
def colleague_client(colleague):
    browser = Client()
    browser.force_login(colleague)
    return browser


def _start(client, exam):
    return client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"})


def _note(client, teacher, exam, language: str) -> str:
    teacher.language = language
    teacher.save(update_fields=["language"])
    page = html.unescape(client.get(reverse("exam_detail", args=[exam.pk])).content.decode())
    assert 'data-testid="partial-note"' not in page
    [text] = re.findall(r'data-testid="deferred-note">(.*?)</p>', page, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def _colleague_job_then_launch(
    school, exam, colleague_exam, owner_client, colleague_client, capture, *, margin: int = 0
) -> list:
    """The colleague's job is started first (its tasks held back: they run when the caller says),
    the pool leaves the teacher room for one copy of three, and the teacher launches it."""
    school.allowance_tokens = room_for(colleague_exam, 1) + room_for(exam, 1) + margin
    school.save(update_fields=["allowance_tokens"])
    with capture() as held_back:
        assert _start(colleague_client, colleague_exam).status_code == 302
    with capture(execute=True):
        assert _start(owner_client, exam).status_code == 302
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]
    mail.outbox.clear()
    return held_back


def test_a_colleagues_job_ending_gives_back_the_pool_and_the_waiting_copies_start(
    owner_client,
    colleague_client,
    school,
    school_teacher,
    exam,
    colleague_exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    held_back = _colleague_job_then_launch(
        school, exam, colleague_exam, owner_client, colleague_client, django_capture_on_commit_callbacks
    )
    with django_capture_on_commit_callbacks(execute=True):
        for enqueue in held_back:  # the colleague's copy is graded now
            enqueue()
    assert copy_statuses(colleague_exam) == ["done"]
    assert copy_statuses(exam) == ["done"] * 3
    [resumed] = [m for m in mail.outbox if m.subject == RESUMED]
    assert resumed.to == [school_teacher.email]
    assert "L'allocation de Lycée Victor-Hugo le permet : 2 copies" in resumed.body
    summary = usage_summary(user=school_teacher)
    assert summary.tokens_used <= summary.limit


def test_a_colleagues_job_cancelled_gives_back_the_pool_and_the_waiting_copies_start(
    owner_client,
    colleague_client,
    school,
    school_teacher,
    exam,
    colleague_exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    _colleague_job_then_launch(
        school, exam, colleague_exam, owner_client, colleague_client, django_capture_on_commit_callbacks
    )
    job = GradingJob.objects.get(exam=colleague_exam)
    with django_capture_on_commit_callbacks(execute=True):
        colleague_client.post(reverse("exam_cancel", args=[colleague_exam.pk]))
    assert copy_statuses(colleague_exam) == ["cancelled"]
    # Nothing of the cancelled job is held any more, its queued copy's first round included.
    assert not Reservation.objects.filter(key__startswith=job.reservation_key, state=Reservation.State.HELD).exists()
    assert copy_statuses(exam) == ["done"] * 3
    assert [m.subject for m in mail.outbox if m.subject == RESUMED] == [RESUMED]


@pytest.mark.parametrize(
    ("language", "running", "after"),
    [
        (
            "fr",
            "1 copie est en cours de correction. 2 copies attendent que l'allocation de Lycée Victor-Hugo le "
            "permette. Elles partiront d'elles-mêmes à la fin de la correction en cours si elle laisse assez "
            "d'allocation, au renouvellement de l'allocation le {date} ou quand l'établissement augmentera son "
            "allocation. Contactez l'administrateur de votre établissement : direction@lycee-hugo.example",
            "1 copie est corrigée. 2 copies attendent que l'allocation de Lycée Victor-Hugo le permette. Elles "
            "partiront d'elles-mêmes au renouvellement de l'allocation le {date} ou quand l'établissement "
            "augmentera son allocation. Contactez l'administrateur de votre établissement : "
            "direction@lycee-hugo.example",
        ),
        (
            "en",
            "1 copy is being graded. 2 copies are waiting for Lycée Victor-Hugo's allowance. They will start by "
            "themselves when the grading in progress ends if it leaves enough allowance, when the allowance renews "
            "on {date} or when the school raises its allowance. Contact your school's administrator: "
            "direction@lycee-hugo.example",
            "1 copy is graded. 2 copies are waiting for Lycée Victor-Hugo's allowance. They will start by "
            "themselves when the allowance renews on {date} or when the school raises its allowance. Contact "
            "your school's administrator: direction@lycee-hugo.example",
        ),
    ],
)
def test_the_note_names_the_school_and_its_admin_while_the_job_runs_and_after(
    owner_client,
    school,
    school_teacher,
    exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
    language,
    running,
    after,
):
    school.allowance_tokens = room_for(exam, 1)  # exactly one copy of three
    school.save(update_fields=["allowance_tokens"])
    with django_capture_on_commit_callbacks() as held_back:
        _start(owner_client, exam)
    with translation.override(language):
        renewal = date_format(timezone.localtime(usage_summary(user=school_teacher).period_end), "DATE_FORMAT")
    assert _note(owner_client, school_teacher, exam, language) == running.format(date=renewal)

    with django_capture_on_commit_callbacks(execute=True):
        for enqueue in held_back:
            enqueue()
    assert GradingJob.objects.get(exam=exam).status == GradingJob.Status.FINISHED
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]
    assert _note(owner_client, school_teacher, exam, language) == after.format(date=renewal)


@pytest.mark.parametrize(
    ("language", "waiting"),
    [
        (
            "fr",
            "2 copies attendent que l'allocation de Lycée Victor-Hugo le permette. Elles partiront d'elles-mêmes "
            "au renouvellement de l'allocation le {date} ou quand l'établissement augmentera son allocation. "
            "Contactez l'administrateur de votre établissement : direction@lycee-hugo.example.",
        ),
        (
            "en",
            "2 copies are waiting for Lycée Victor-Hugo's allowance. They will start by themselves when the "
            "allowance renews on {date} or when the school raises its allowance. Contact your school's "
            "administrator: direction@lycee-hugo.example.",
        ),
    ],
)
def test_the_finished_email_words_the_waiting_copies_as_the_page_does(
    owner_client,
    school,
    school_teacher,
    exam,
    llm_server,
    eager_celery,
    django_capture_on_commit_callbacks,
    language,
    waiting,
):
    school.allowance_tokens = room_for(exam, 1)  # exactly one copy of three
    school.save(update_fields=["allowance_tokens"])
    school_teacher.language = language
    school_teacher.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        _start(owner_client, exam)
    assert copy_statuses(exam) == ["done", "deferred", "deferred"]
    with translation.override(language):
        renewal = date_format(timezone.localtime(usage_summary(user=school_teacher).period_end), "DATE_FORMAT")
    [email] = mail.outbox
    body = " ".join(email.body.split())
    assert waiting.format(date=renewal) in body
    assert "changement d'offre" not in body and "change of plan" not in body
