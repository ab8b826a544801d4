"""Upload validation's rules on tables of files, without a database or a web request: what a
file that is not a PDF really is, a cut file, a protected one, the size and page limits at
their boundaries, and what is stored of a file with bytes before its header
(workflow/test_uploads.py and test_hostile_pdfs.py send such files through the upload view)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from grading.validation import PdfInvalid, pdf_validate
from tests.grading.workflow.pdfs import encrypted_pdf_bytes, pdf_bytes, raw_pdf
from tests.support.hostile_pdfs import padded_pdf

pytestmark = pytest.mark.usefixtures("french")

MIB = 1024 * 1024
IMAGE = (
    "Ce fichier est une image {}, pas un PDF : enregistrez ou numérisez la copie au format PDF, "
    "puis déposez-la à nouveau."
)
OFFICE = (
    "Ce fichier est un document Word, LibreOffice ou une archive ZIP, pas un PDF : "
    "exportez-le au format PDF, puis déposez-le à nouveau."
)
HTML = "Ce fichier est une page web (HTML), pas un PDF."
NOT_PDF = "Ce fichier n'est pas un PDF."
TRUNCATED = "Le PDF est incomplet (fichier tronqué). Déposez-le à nouveau."
PROTECTED = "Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection."


def refusal(data: bytes) -> str:
    with pytest.raises(PdfInvalid) as refused:
        pdf_validate(SimpleUploadedFile("copie.pdf", data))
    return refused.value.message


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (b"\xff\xd8\xff\xe0", IMAGE.format("JPEG")),
        (b"\x89PNG\r\n\x1a\n", IMAGE.format("PNG")),
        (b"GIF87a", IMAGE.format("GIF")),
        (b"GIF89a", IMAGE.format("GIF")),
        (b"II*\x00", IMAGE.format("TIFF")),
        (b"MM\x00*", IMAGE.format("TIFF")),
        (b"\x00\x00\x00\x18ftypheic", IMAGE.format("HEIC")),
        (b"\x00\x00\x00\x18ftypheix", IMAGE.format("HEIC")),
        (b"\x00\x00\x00\x18ftypmif1", IMAGE.format("HEIC")),
        (b"\x00\x00\x00\x18ftypmsf1", IMAGE.format("HEIC")),
        (b"\x00\x00\x00\x18ftyphevc", IMAGE.format("HEIC")),
        (b"\x00\x00\x00\x18ftypisom", NOT_PDF),  # an MP4 video is no image
        (b"\x00\x00\x00\x18FTYPheic", NOT_PDF),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", IMAGE.format("WebP")),
        (b"RIFF\x10\x00\x00\x00WAVEfmt ", NOT_PDF),
        (b"PK\x03\x04", OFFICE),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", OFFICE),
        (b"<!DOCTYPE html><title>x</title>", HTML),
        (b"\n  <html lang=fr>", HTML),
        (b"<HEAD>", HTML),
        (b"<body>", HTML),
        (b"<script>", HTML),
        (b"<iframe src=x>", HTML),
        (b"<htmlx>", NOT_PDF),
        (b"%PDF", NOT_PDF),  # the header cut short
        (b"PDF-1.7", NOT_PDF),
    ],
)
def test_a_file_that_does_not_start_as_a_pdf_is_named_for_what_it_is(start, message):
    assert refusal(start + b"\x00" * 64) == message


def test_html_is_recognised_in_the_first_4096_bytes_only():
    assert refusal(b" " * 4091 + b"<html>") == HTML  # "<html" ends the 4 096 bytes read
    assert refusal(b" " * 4092 + b"<html>") == NOT_PDF


@pytest.mark.parametrize(
    ("after_header", "name"),
    [
        (b"\n\xff\xd8\xff\xe0", "JPEG"),
        (b"\n\x89PNG\r\n\x1a\n", "PNG"),
        (b"\r\n%\xe2\xe3\xcf\xd3\r\n \t\f\x00GIF89a", "GIF"),
    ],
)
def test_a_pdf_header_in_front_of_an_image_makes_no_pdf_of_it(after_header, name):
    assert refusal(b"%PDF-1.4" + after_header + b"\x00" * 64 + b"%%EOF\n") == IMAGE.format(name)


@pytest.mark.parametrize(
    ("end", "message"),
    [
        (b"\xff\xd9", IMAGE.format("JPEG")),
        (b"\xff\xd9\n  ", IMAGE.format("JPEG")),
        (b"IEND\xaeB`\x82", IMAGE.format("PNG")),
        (b"endobj\n", TRUNCATED),
    ],
)
def test_a_file_without_its_end_is_a_cut_pdf_or_an_image_behind_a_header(end, message):
    assert refusal(b"%PDF-1.4\n1 0 obj\n<< >>\n" + end) == message


def test_the_end_marker_counts_only_in_the_last_1024_bytes():
    complete = pdf_bytes(1)
    assert complete.endswith(b"%%EOF\r\n")
    assert refusal(complete + b" " * 1020) == TRUNCATED  # its last "F" is the 1 025th byte from the end
    assert pdf_validate(SimpleUploadedFile("copie.pdf", complete + b" " * 1017)).page_count == 1  # the 1 022nd


@pytest.mark.parametrize("user_password", [b"secret", b""])
def test_a_protected_pdf_is_refused_from_its_bytes(user_password):
    assert refusal(encrypted_pdf_bytes(user_password=user_password)) == PROTECTED


def test_an_empty_file_is_refused():
    assert refusal(b"") == "Le fichier est vide."


@pytest.mark.parametrize(("limit", "shown"), [(2 * MIB, "2"), (MIB, "1"), (MIB // 2, "1"), (3 * MIB - 1, "2")])
def test_a_file_one_byte_over_the_size_limit_is_refused_and_one_at_it_is_not(settings, limit, shown):
    settings.UPLOAD_MAX_BYTES = limit

    assert pdf_validate(SimpleUploadedFile("juste.pdf", padded_pdf(limit))).size_bytes == limit
    assert refusal(padded_pdf(limit + 1)) == f"Le fichier dépasse la taille maximale de {shown} Mo."


def test_a_file_larger_than_its_declared_size_is_read_no_further_than_the_limit(settings):
    settings.UPLOAD_MAX_BYTES = MIB
    upload = SimpleUploadedFile("menteur.pdf", pdf_bytes(1) + b"%" + b"x" * MIB + b"\n%%EOF\n")
    upload.size = 1000  # what the client declared

    with pytest.raises(PdfInvalid) as refused:
        pdf_validate(upload)
    assert refused.value.message == "Le fichier dépasse la taille maximale de 1 Mo."


@pytest.mark.parametrize(("pages", "accepted"), [(4, True), (5, True), (6, False)])
def test_the_page_limit_holds_at_exactly_its_value(settings, pages, accepted):
    settings.UPLOAD_MAX_PAGES = 5
    upload = SimpleUploadedFile("copie.pdf", pdf_bytes(pages))
    if accepted:
        assert pdf_validate(upload).page_count == pages
    else:
        assert refusal(pdf_bytes(pages)) == "Le PDF a 6 pages ; la limite est de 5 pages par fichier."


@pytest.mark.parametrize("before", [b"\xef\xbb\xbf", b"\r\n \t", b"\xef\xbb\xbf\n\x00\f"])
def test_bytes_before_the_header_are_not_stored(before):
    import hashlib

    data = pdf_bytes(2)
    upload = SimpleUploadedFile("bom.pdf", before + data)

    info = pdf_validate(upload)

    assert (info.page_count, info.size_bytes, info.sha256) == (2, len(data), hashlib.sha256(data).hexdigest())
    upload.seek(0)
    assert (upload.read(), upload.size) == (data, len(data))


def test_a_file_stored_as_sent_keeps_every_byte():
    data = pdf_bytes(1)
    upload = SimpleUploadedFile("copie.pdf", data)

    assert pdf_validate(upload).size_bytes == len(data)
    upload.seek(0)
    assert upload.read() == data


def test_text_before_the_header_is_no_pdf():
    assert refusal(b"hello\n" + pdf_bytes(1)) == NOT_PDF


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.4\nnot really a pdf\n%%EOF\n", "Le PDF est illisible ou endommagé."),
        (
            raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]),
            "Le PDF ne contient aucune page.",
        ),
    ],
)
def test_what_the_sandbox_cannot_read_is_refused_with_its_reason(data, message):
    assert refusal(data) == message
