"""The split screen's thumbnails: rendered by the task a class upload enqueues, served to the
owner only, a placeholder until they exist; the page shows each row's pages."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from grading import tasks
from grading.models import SourceFile
from grading.services.uploads import THUMBNAIL_LONG_SIDE
from tests.support.pdfs import text_pdf

from .classes import exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


@pytest.fixture
def source(owner_client, django_capture_on_commit_callbacks):
    exam = exam_for_class(owner_client, None)
    upload = SimpleUploadedFile("classe.pdf", text_pdf(["Nom : A", "suite", "Nom : B"]))
    with django_capture_on_commit_callbacks() as enqueued:
        owner_client.post(reverse("class_upload", args=[exam.pk]), {"file": upload, "pages_per_student": 2})
    assert len(enqueued) == 1  # the thumbnails' task, once the upload is committed
    return SourceFile.objects.get(exam=exam)


def _thumbnail(client, source, index):
    return client.get(reverse("source_thumbnail", args=[source.pk, index]))


def test_a_placeholder_stands_in_until_the_task_has_rendered_the_pages(owner_client, source):
    before = _thumbnail(owner_client, source, 1)
    assert before["Content-Type"] == "image/svg+xml" and before["Cache-Control"] == "no-store"

    assert tasks.source_thumbnails_render_task.apply(args=[source.pk]).get() == 3

    after = _thumbnail(owner_client, source, 3)
    assert after["Content-Type"] == "image/jpeg"
    image = Image.open(io.BytesIO(after.content))
    assert max(image.size) == THUMBNAIL_LONG_SIDE and image.height > image.width


@pytest.mark.parametrize("index", [0, 4])
def test_a_page_outside_the_file_is_a_404(owner_client, source, index):
    assert _thumbnail(owner_client, source, index).status_code == 404


def test_the_split_page_shows_each_rows_pages(owner_client, source):
    page = owner_client.get(reverse("source_split", args=[source.pk]) + "?pages=2").content.decode()

    first = reverse("source_thumbnail", args=[source.pk, 1])
    third = reverse("source_thumbnail", args=[source.pk, 3])
    assert page.count('data-page="') == 3
    assert page.index(first) < page.index("rows-1-first_page") < page.index(third)


def test_a_preview_shows_the_moved_boundary_without_creating_copies(owner_client, source):
    form = {"rows-TOTAL_FORMS": "2", "rows-INITIAL_FORMS": "2", "preview": "1"}
    form |= {"rows-0-student_label": "A", "rows-0-first_page": 1, "rows-0-last_page": 1}
    form |= {"rows-1-student_label": "B", "rows-1-first_page": 2, "rows-1-last_page": 3}

    response = owner_client.post(reverse("source_split", args=[source.pk]), form)

    assert response.status_code == 200
    assert [pages for _form, pages in response.context["rows"]] == [[1], [2, 3]]
    assert not source.copies.exists()
