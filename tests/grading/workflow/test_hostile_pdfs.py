"""The hostile-PDF corpus through the real upload view and the real render task.

Each file of tests/support/hostile_pdfs.CORPUS is uploaded as a teacher would; a refused
file leaves nothing stored, an accepted one is rendered by copy_pages_render_task (in the
sandbox) and must give every page, or fail the copy with the reason. The sandbox's limits
are lowered here so bombs stop in a couple of seconds; every ordinary file stays far below.
"""

from __future__ import annotations

import html

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading.models import Copy, Exam, SourceFile
from grading.tasks import copy_pages_render_task
from tests.factories import ExamFactory
from tests.grading.workflow.pdfs import encrypted_pdf_bytes
from tests.support.hostile_pdfs import CORPUS, flat_tree, image_pdf, padded_pdf, pdfium_pdf
from tests.support.pdfs import text_pdf

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french", "sandbox_limits")]

MIB = 1024 * 1024


@pytest.fixture
def sandbox_limits(settings):
    settings.PDF_SANDBOX_MEMORY_MB = 512
    settings.PDF_SANDBOX_PAGE_CPU_S = 2
    settings.PDF_SANDBOX_FILE_CPU_S = 30
    # Only a backstop here (CPU limits stop the bombs): generous, the machine may be loaded.
    settings.PDF_SANDBOX_WALL_S = 120


def upload(client, exam, name: str, data: bytes):
    return client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [SimpleUploadedFile(name, data, content_type="application/pdf")]},
        headers={"Accept": "application/json"},
    )


@pytest.mark.parametrize("case", CORPUS, ids=[case.name for case in CORPUS])
def test_each_file_of_the_corpus_gets_its_expected_outcome(owner_client, teacher, media_files, case):
    exam = ExamFactory(owner=teacher)
    response = upload(owner_client, exam, f"{case.name}.pdf", case.make())
    body = response.json()

    if case.refused is not None:
        assert response.status_code == 400
        [error] = body["errors"]
        assert error["message"].startswith(case.refused), error["message"]
        assert not SourceFile.objects.exists()
        assert media_files() == []
        return

    assert response.status_code == 200, body
    assert SourceFile.objects.get().page_count == case.pages
    copy = Copy.objects.get()
    assert copy_pages_render_task.apply(args=[copy.pk]).get() == (0 if case.render_failure else case.pages)
    copy.refresh_from_db()
    if case.render_failure:
        assert copy.status == Copy.Status.FAILED
        assert copy.failure_text.startswith(case.render_failure), copy.failure_text
        assert not copy.pages.exists()
        return
    assert copy.status == Copy.Status.QUEUED and copy.failure_reason == ""
    pages = list(copy.pages.order_by("index"))
    assert [page.index for page in pages] == list(range(1, case.pages + 1))
    assert all((page.width > page.height) == case.landscape for page in pages)
    assert all(max(page.width, page.height) == 1400 for page in pages)


def test_a_file_exactly_at_the_page_limit_is_accepted_and_one_more_page_is_refused(owner_client, teacher, settings):
    settings.UPLOAD_MAX_PAGES = 5
    exam = ExamFactory(owner=teacher)
    assert upload(owner_client, exam, "cinq.pdf", pdfium_pdf([(595, 842)] * 5)).status_code == 200
    response = upload(owner_client, exam, "six.pdf", pdfium_pdf([(595, 842)] * 6))
    assert response.json()["errors"] == [
        {"name": "six.pdf", "message": "Le PDF a 6 pages ; la limite est de 5 pages par fichier."}
    ]
    assert list(SourceFile.objects.values_list("original_name", flat=True)) == ["cinq.pdf"]


def test_a_file_exactly_at_the_byte_limit_is_accepted_and_one_byte_more_is_refused(owner_client, teacher, settings):
    settings.UPLOAD_MAX_BYTES = MIB
    exam = ExamFactory(owner=teacher)
    assert upload(owner_client, exam, "juste.pdf", padded_pdf(MIB)).status_code == 200
    response = upload(owner_client, exam, "trop.pdf", padded_pdf(MIB + 1))
    assert response.json()["errors"] == [
        {"name": "trop.pdf", "message": "Le fichier dépasse la taille maximale de 1 Mo."}
    ]
    assert SourceFile.objects.get().size_bytes == MIB


def test_an_image_exactly_at_the_pixel_limit_is_accepted_and_one_row_more_is_refused(owner_client, teacher, settings):
    settings.PDF_IMAGE_MAX_MEGAPIXELS = 1
    exam = ExamFactory(owner=teacher)

    def with_image(height: int) -> bytes:
        return image_pdf(width=1000, height=height, data=bytes(1000 * height), flate=0)

    assert upload(owner_client, exam, "juste.pdf", with_image(1000)).status_code == 200
    response = upload(owner_client, exam, "trop.pdf", with_image(1001))
    assert response.json()["errors"][0]["message"].startswith(
        "La page 1 du PDF contient une image de 1000 × 1001 pixels ; la limite est de 1 millions de pixels par image."
    )


def test_an_owner_password_only_file_that_pdfium_opens_is_refused_from_its_bytes(owner_client, teacher, media_files):
    data = encrypted_pdf_bytes(user_password=b"")
    document = pdfium.PdfDocument(data)  # no password needed: only the raw /Encrypt check sees it
    assert len(document) == 1
    document.close()
    exam = ExamFactory(owner=teacher)
    response = upload(owner_client, exam, "proprietaire.pdf", data)
    assert response.json()["errors"][0]["message"] == (
        "Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection."
    )
    assert media_files() == []


def test_a_bom_before_the_header_is_stripped_from_what_is_stored(owner_client, teacher):
    data = text_pdf(["Copie"])
    exam = ExamFactory(owner=teacher)
    assert upload(owner_client, exam, "bom.pdf", b"\xef\xbb\xbf\n" + data).status_code == 200
    source = SourceFile.objects.get()
    with source.file.open("rb") as stored:
        assert stored.read() == data
    assert source.size_bytes == len(data)


def test_a_bomb_given_as_the_subject_is_refused_and_not_stored(owner_client, teacher, media_files):
    from tests.support.hostile_pdfs import content_bomb

    exam = ExamFactory(owner=teacher)
    subject = SimpleUploadedFile("sujet.pdf", content_bomb(), content_type="application/pdf")
    response = owner_client.post(reverse("bareme_extract", args=[exam.pk]), {"subject": subject}, follow=True)
    assert "Le PDF est trop lourd à traiter : sa page 1 demande plus de 512 Mo de mémoire." in html.unescape(
        response.text
    )
    assert not Exam.objects.get(pk=exam.pk).subject_file
    assert media_files() == []


def _stored_before_validation(exam, data: bytes) -> SourceFile:
    """A file stored before validation loaded every page (it could not be uploaded today)."""
    source = SourceFile(exam=exam, original_name="ancien.pdf", size_bytes=len(data), page_count=2)
    source.file.save("ancien.pdf", ContentFile(data), save=False)
    source.save()
    return source


def test_a_stored_subject_with_an_unreadable_page_gets_the_reason_not_an_error_page(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = ExamFactory(owner=teacher)
    exam.subject_file.save("sujet.pdf", ContentFile(flat_tree(1, count=2)))
    with django_capture_on_commit_callbacks(execute=True):  # the reading task, run here
        posted = owner_client.post(reverse("bareme_extract", args=[exam.pk]))
    response = owner_client.get(posted.url, follow=True)
    assert response.status_code == 200
    assert "La page 2 du PDF ne peut pas être lue (elle est endommagée)." in html.unescape(response.text)
    assert llm_server.requests == []
    assert not Exam.objects.get(pk=exam.pk).subject_file  # not kept: every retry would fail on it


def test_a_stored_class_pdf_with_an_unreadable_page_falls_back_to_a_manual_split(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = ExamFactory(owner=teacher)
    source = _stored_before_validation(exam, flat_tree(1, count=2))
    with django_capture_on_commit_callbacks(execute=True):  # the proposal's task, run here
        owner_client.get(reverse("source_split", args=[source.pk]))
    response = owner_client.get(reverse("source_split", args=[source.pk]))
    assert response.status_code == 200
    assert "La proposition automatique a échoué (La page 2 du PDF ne peut pas être lue" in html.unescape(response.text)
    assert llm_server.requests == []
