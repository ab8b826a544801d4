"""The subject's pages beside a proposed barème (issue 17): rendered by the task the reading of
the subject enqueues (never in the web request), kept in the cache, served to the exam's owner
only; the page shows a placeholder that polls until they are there, and asks for them again
once when the cache lost them."""

from __future__ import annotations

import html
import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from grading import tasks
from grading.engine.detection import BAREME_MAX_PAGES
from grading.engine.render import LONG_SIDE
from grading.models import Exam, Proposal
from grading.services.subject_pages import SUBJECT_PAGE_LONG_SIDE, SUBJECT_PAGES_MAX, subject_page_key
from tests.factories import ExamFactory
from tests.support.hostile_pdfs import many_images
from tests.support.pdfs import text_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

SUBJECT = ["Exercice 1 (4 points) : calculer 3 × 7.", "Exercice 2 (6 points) : un problème."]


@pytest.fixture
def exam(owner_client, teacher, django_capture_on_commit_callbacks):
    """An exam whose subject was sent to be read; neither task has run yet."""
    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", text_pdf(SUBJECT), content_type="application/pdf")
    with django_capture_on_commit_callbacks() as enqueued:
        owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})
    assert len(enqueued) == 2  # the reading (grading queue) and the pages (render queue)
    return Exam.objects.get(pk=exam.pk)


def _render(exam) -> int:
    """What the render worker does with the task reading the subject enqueued."""
    return tasks.subject_pages_render_task.apply(args=[exam.pk, exam.subject_file.name]).get()


def _pages(client, exam):
    return client.get(reverse("exam_subject_pages", args=[exam.pk]), headers={"HX-Request": "true"})


def _page(client, exam, index):
    return client.get(reverse("exam_subject_page", args=[exam.pk, index]))


def test_a_placeholder_polls_until_the_task_has_rendered_the_pages(owner_client, exam):
    before = _pages(owner_client, exam)
    assert "Préparation des pages du sujet" in html.unescape(before.text)
    assert f'hx-get="{reverse("exam_subject_pages", args=[exam.pk])}"' in before.text
    image = _page(owner_client, exam, 1)
    assert image["Content-Type"] == "image/svg+xml" and image["Cache-Control"] == "no-store"

    assert _render(exam) == 2

    after = html.unescape(_pages(owner_client, exam).text)
    assert "hx-get" not in after  # ready: the polling stops
    assert after.count("<img ") == 2 and 'alt="Sujet, page 1"' in after and 'alt="Sujet, page 2"' in after
    served = _page(owner_client, exam, 2)
    assert served["Content-Type"] == "image/jpeg"
    page = Image.open(io.BytesIO(served.content))
    assert max(page.size) == SUBJECT_PAGE_LONG_SIDE == LONG_SIDE and page.height > page.width  # the prompt's size


def test_the_pages_are_the_owners_only(owner_client, other_teacher, exam):
    _render(exam)
    other = Client()
    other.force_login(other_teacher)
    assert _page(other, exam, 1).status_code == 404
    assert _pages(other, exam).status_code == 404
    assert _page(owner_client, exam, 1)["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("index", [0, 3, 11])
def test_a_page_the_subject_does_not_show_is_a_404(owner_client, exam, index):
    _render(exam)
    assert _page(owner_client, exam, index).status_code == 404


def test_pages_the_cache_lost_are_asked_for_once_again(
    owner_client, exam, eager_tasks, django_capture_on_commit_callbacks
):
    _render(exam)
    cache.delete(subject_page_key(exam, 1))
    with django_capture_on_commit_callbacks() as enqueued:
        assert _page(owner_client, exam, 1)["Content-Type"] == "image/svg+xml"
        assert _page(owner_client, exam, 1)["Content-Type"] == "image/svg+xml"
    assert len(enqueued) == 1
    for callback in enqueued:
        callback()  # the task, run inline here
    assert _page(owner_client, exam, 1)["Content-Type"] == "image/jpeg"


def test_a_new_subject_does_not_show_the_old_ones_pages(owner_client, exam, django_capture_on_commit_callbacks):
    _render(exam)
    old = exam.subject_file.name
    Proposal.objects.update(status=Proposal.Status.FAILED)  # the first reading over
    subject = SimpleUploadedFile("sujet.pdf", text_pdf(["Un autre sujet"]), content_type="application/pdf")
    with django_capture_on_commit_callbacks():
        owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})
    exam.refresh_from_db()
    assert exam.subject_file.name != old
    assert "Préparation des pages du sujet" in html.unescape(_pages(owner_client, exam).text)
    assert tasks.subject_pages_render_task.apply(args=[exam.pk, old]).get() == 0  # replaced: not rendered
    assert _render(exam) == 1


def test_a_long_subject_shows_the_pages_the_model_reads_and_says_so(
    owner_client, teacher, django_capture_on_commit_callbacks
):
    exam = ExamFactory(owner=teacher)
    pages = [f"Exercice {n}" for n in range(1, SUBJECT_PAGES_MAX + 2)]
    subject = SimpleUploadedFile("sujet.pdf", text_pdf(pages), content_type="application/pdf")
    with django_capture_on_commit_callbacks():
        owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})
    exam.refresh_from_db()

    assert _render(exam) == SUBJECT_PAGES_MAX == BAREME_MAX_PAGES

    shown = html.unescape(_pages(owner_client, exam).text)
    assert (
        f"Les {SUBJECT_PAGES_MAX} premières pages sur {SUBJECT_PAGES_MAX + 1}, celles que la lecture a lues." in shown
    )
    assert shown.count("<img ") == SUBJECT_PAGES_MAX


def test_a_subject_the_sandbox_refuses_is_told_and_no_longer_polled(
    owner_client, teacher, settings, django_capture_on_commit_callbacks
):
    settings.PDF_SANDBOX_PAGE_CPU_S = 2  # the bomb stops in seconds (as in test_hostile_pdfs.py)
    settings.PDF_SANDBOX_WALL_S = 120
    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", many_images(), content_type="application/pdf")
    with django_capture_on_commit_callbacks():
        owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})
    exam.refresh_from_db()

    assert _render(exam) == 0  # refused in the sandbox, and logged

    told = html.unescape(_pages(owner_client, exam).text)
    assert "Les pages du sujet ne peuvent pas être affichées ici : ouvrez le PDF." in told
    assert "hx-get" not in told and "<img " not in told
    assert _page(owner_client, exam, 1).status_code == 404


def test_the_proposal_shows_the_subject_beside_its_rows(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", text_pdf(SUBJECT), content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        posted = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject})

    page = html.unescape(owner_client.get(posted.url).text)

    assert page.index('data-testid="subject-column"') < page.index('name="bareme-0-label"')
    assert 'alt="Sujet, page 1"' in page and 'alt="Sujet, page 2"' in page
    assert "hx-get" not in page  # rendered by the task the reading enqueued, before the page opened
