"""The exam page's note and the job-finished email count the copies left waiting for the
allowance once (grading.services.waiting): for the same state of the exam, the copies the email
says can start again are those the page says the allowance takes now, and the others are the
ones both say wait, with the same way out (the plans, or the school's admin). For a teacher of
their own and a school's teacher; through the views, the engine (tasks run eagerly) and the
scripted LLM server; the resume then starts what both counted."""

from __future__ import annotations

import html
import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories import allowance_leave, copy_with_pages
from tests.grading.helpers import copy_statuses, fractions_exam, room_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    exam = fractions_exam(teacher)
    # Far larger than the margin two one-page copies give back: it keeps waiting after the resume.
    copy_with_pages(exam, pages=8, label="Dan", text="copie de Dan")
    return exam


@pytest.fixture(params=["own", "school"])
def room(request, teacher, exam, llm_server):
    """Room for the first three copies but one token: two start, their margin takes the third."""
    if request.param == "school":
        school = request.getfixturevalue("school")
        request.getfixturevalue("school_teacher")
        school.allowance_tokens = room_for(exam, 3) - 1
        school.save(update_fields=["allowance_tokens"])
    else:
        allowance_leave(teacher, room_for(exam, 3) - 1)
    return request.param


def _page_note(client, exam) -> str:
    page = html.unescape(client.get(reverse("exam_detail", args=[exam.pk])).content.decode())
    [text] = re.findall(r'data-testid="deferred-note">(.*?)</p>', page, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def _email_note() -> str:
    """The waiting copies' paragraph of the last job-finished email, on one line."""
    [*_, body] = [m.body for m in mail.outbox if m.subject.startswith("Correction terminée")]
    [line] = [line for line in body.splitlines() if "le permette" in line or "peu" in line and "repartir" in line]
    return " ".join(line.split())


def _count(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    return int(found.group(1)) if found else 0


WAITING = r"(\d+) copies? attend(?:ent)? que"
PAGE_NOW = r"L'allocation en permet maintenant (\d+)"
EMAIL_RESTART = r"(\d+) copies? qui attendai(?:t|ent) l'allocation peu(?:t|vent) repartir"
CONTACT = {"own": "Voir les offres", "school": "Contactez l'administrateur de votre établissement : direction@"}


def test_the_page_and_the_email_count_the_waiting_copies_alike(
    owner_client, teacher, exam, room, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as launch:
        assert owner_client.post(reverse("exam_start", args=[exam.pk]), {"partial": "1"}).status_code == 302
    # The job's copies graded and the job ended; what it gave back resumes on a commit held back:
    # the state the email is written in.
    with django_capture_on_commit_callbacks() as resume:
        for enqueue in launch:
            enqueue()
    assert copy_statuses(exam) == ["done", "done", "deferred", "deferred"]
    page, email = _page_note(owner_client, exam), _email_note()
    assert (_count(PAGE_NOW, page), _count(WAITING, page)) == (1, 2)
    assert (_count(EMAIL_RESTART, email), _count(WAITING, email)) == (1, 1)
    # One copy stays waiting beyond the room: both point to the way out.
    assert CONTACT[room] in page and ("Contactez" in email) == (room == "school")

    # The resume starts what both counted; then both say the same of the copy still waiting.
    with django_capture_on_commit_callbacks(execute=True):
        for enqueue in resume:
            enqueue()
    assert copy_statuses(exam) == ["done", "done", "done", "deferred"]
    page, email = _page_note(owner_client, exam), _email_note()
    assert _count(WAITING, email) == 1 and _count(EMAIL_RESTART, email) == 0
    assert email.rstrip(".") in page and "maintenant" not in page
    assert CONTACT[room] in page
