"""QR codes on the annotated PDF's summary page (issue 14): the student's private link, when
one is known — the PDF a student downloads from their link, and the zip a teacher asks with new
links to print and hand out. Read back by rendering the page (pypdfium2) and comparing every
module of the code with the QR matrix of the expected link (reportlab's own encoder)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from reportlab.graphics.barcode.qr import QrCodeWidget

from grading import services
from grading.exports.overlay import QR_SIZE
from grading.models import Copy, ExportFile, SourceFile, StudentLink
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.pdfs import text_pdf

from .test_export_files import _zip_names

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "qr"
MARGIN = 50.0  # the summary page's margin (grading.exports.overlay._Flow)


def _graded_class(teacher, count: int):
    exam = exam_with_bareme(owner=teacher, questions=2, title="Géométrie")
    source = SourceFile.objects.create(exam=exam, original_name="classe.pdf", page_count=count)
    source.file.save("classe.pdf", ContentFile(text_pdf([f"Copie {n + 1}" for n in range(count)])), save=True)
    for number in range(count):
        copy = copy_with_pages(exam, pages=1, label=f"Élève {number + 1}", text=f"copie {number + 1}")
        copy.source, copy.first_page, copy.last_page = source, number + 1, number + 1
        copy.save()
    job = services.job_start(exam=exam, user=teacher)
    for copy in exam.copies.all():
        services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")
    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    return exam


def _qr_shows(pdf: bytes, url: str) -> bool:
    """Whether the summary page's QR code is `url`'s, module by module."""
    page = pdfium.PdfDocument(pdf)[0]
    width, _height = page.get_size()
    scale = 4
    image = page.render(scale=scale).to_pil().convert("L")
    widget = QrCodeWidget(url, barLevel="M", barBorder=0)
    widget.draw()
    count = widget.qr.getModuleCount()
    module = QR_SIZE / count
    left = width - MARGIN - QR_SIZE
    for row in range(count):
        for column in range(count):
            x = (left + (column + 0.5) * module) * scale
            y = (MARGIN + (row + 0.5) * module) * scale
            if (image.getpixel((int(x), int(y))) < 128) != widget.qr.isDark(row, column):
                return False
    return True


def _blank_corner(pdf: bytes) -> bool:
    page = pdfium.PdfDocument(pdf)[0]
    width, _height = page.get_size()
    image = page.render(scale=2).to_pil().convert("L")
    box = (int((width - MARGIN - QR_SIZE) * 2), int(MARGIN * 2), int((width - MARGIN) * 2), int((MARGIN + QR_SIZE) * 2))
    return min(image.crop(box).getdata()) > 200


def test_the_pdf_a_student_downloads_leads_back_to_their_link(client, owner_client, teacher, llm_server):
    exam = _graded_class(teacher, 1)
    copy = exam.copies.get()
    issued = services.copy_link_issue(copy=copy, user=teacher)
    token = issued.url.rstrip("/").rsplit("/", 1)[-1]
    teachers = owner_client.get(reverse("copy_annotated", args=[copy.pk])).content

    client.logout()
    pdf = client.get(reverse("student_copy_pdf", args=[token])).content
    # Kept for a look (git-ignored).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "student-copy.pdf").write_bytes(pdf)

    assert _qr_shows(pdf, issued.url)
    assert not _qr_shows(pdf, issued.url.replace(token, token[::-1]))
    assert "Ta copie en ligne" in pdfium.PdfDocument(pdf)[0].get_textpage().get_text_bounded()
    # The teacher's own download knows no link (only its hash is stored): no code.
    assert _blank_corner(teachers)


def test_the_zip_to_print_issues_a_new_link_per_copy_and_prints_its_code(teacher, llm_server, monkeypatch):
    exam = _graded_class(teacher, 3)
    issued = []
    original = services.exports.exam_links_issue

    def keep(**kwargs):
        issued.extend(original(**kwargs))
        return issued

    monkeypatch.setattr("grading.services.exports.exam_links_issue", keep)
    export = services.export_start(exam=exam, user=teacher, fmt="zip", link_days=7)
    services.export_build(export=export)

    assert export.status == ExportFile.Status.DONE, export.failure_reason
    assert StudentLink.objects.filter(copy__exam=exam).count() == 3
    for link in StudentLink.objects.filter(copy__exam=exam):
        assert timezone.now() + timedelta(days=6) < link.expires_at <= timezone.now() + timedelta(days=7)
    with export.file.open("rb") as handle:
        files = _zip_names(handle.read())
    for item in issued:
        (pdf,) = [data for name, data in files.items() if name.endswith(f"-{item.copy.pk}.pdf")]
        assert _qr_shows(pdf, item.url)
    # Without the option, no link is issued and no code printed.
    plain = services.export_start(exam=exam, user=teacher, fmt="zip")
    services.export_build(export=plain)
    assert StudentLink.objects.filter(copy__exam=exam).count() == 3
    with plain.file.open("rb") as handle:
        assert all(_blank_corner(pdf) for pdf in _zip_names(handle.read()).values())


@pytest.mark.parametrize(("days", "accepted"), [("0", False), ("1", True), ("365", True), ("366", False)])
def test_the_links_of_the_zip_last_from_one_day_to_a_year(owner_client, teacher, days, accepted):
    exam = exam_with_bareme(owner=teacher, questions=1)
    response = owner_client.post(
        reverse("exam_export_start", args=[exam.pk]), {"fmt": "zip", "qr": "1", "days": days}, follow=True
    )
    export = ExportFile.objects.filter(exam=exam).first()
    assert (export is not None) == accepted
    if accepted:
        assert export.link_days == int(days)
    else:
        assert "La durée d'un lien va de 1 à 365 jours." in response.content.decode().replace("&#x27;", "'")
