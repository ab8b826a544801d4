from __future__ import annotations

import html
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from grading.models import Copy, SourceFile
from tests.factories import ExamFactory
from tests.grading.workflow.pdfs import encrypted_pdf_bytes, pdf_bytes, raw_pdf

pytestmark = pytest.mark.django_db


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def truncated_pdf() -> bytes:
    data = pdf_bytes(3)
    return data[: len(data) // 2]


BAD_FILES = [
    ("vide.pdf", lambda: b"", "Le fichier est vide."),
    (
        "image.pdf",
        png_bytes,
        "Ce fichier est une image PNG, pas un PDF : enregistrez ou numérisez la copie au format PDF, "
        "puis déposez-la à nouveau.",
    ),
    ("tronque.pdf", truncated_pdf, "Le PDF est incomplet (fichier tronqué). Déposez-le à nouveau."),
    (
        "mot-de-passe.pdf",
        encrypted_pdf_bytes,
        "Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection.",
    ),
    (
        "chiffre.pdf",
        lambda: encrypted_pdf_bytes(user_password=b""),
        "Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection.",
    ),
    (
        "sans-pages.pdf",
        lambda: raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]),
        "Le PDF ne contient aucune page.",
    ),
    ("abime.pdf", lambda: b"%PDF-1.4\nnot really a pdf\n%%EOF\n", "Le PDF est illisible ou endommagé."),
]


@pytest.mark.parametrize(("name", "make", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_it_refuses_a_bad_file_and_stores_nothing(owner_client, teacher, media_files, name, make, message):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]), {"files": [upload(name, make())]}, follow=True
    )
    assert f"{name} : {message}" in html.unescape(response.text)
    assert not SourceFile.objects.exists()
    assert not Copy.objects.exists()
    assert media_files() == []


def test_it_refuses_a_file_over_the_size_limit(owner_client, teacher, media_files, settings):
    settings.UPLOAD_MAX_BYTES = 2 * 1024 * 1024
    exam = ExamFactory(owner=teacher)
    data = pdf_bytes(1) + b"%" + b"x" * (2 * 1024 * 1024) + b"\n%%EOF\n"
    response = owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [upload("gros.pdf", data)]})
    assert response.status_code == 302
    page = owner_client.get(response["Location"])
    assert "gros.pdf : Le fichier dépasse la taille maximale de 2 Mo." in page.text
    assert not SourceFile.objects.exists()
    assert media_files() == []


def test_it_refuses_a_file_over_the_page_limit(owner_client, teacher, media_files, settings):
    settings.UPLOAD_MAX_PAGES = 3
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [upload("long.pdf", pdf_bytes(4))]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"name": "long.pdf", "message": "Le PDF a 4 pages ; la limite est de 3 pages par fichier."}
    ]
    assert not SourceFile.objects.exists()
    assert media_files() == []


def test_it_stores_several_copies_under_unguessable_names(owner_client, teacher, media_files):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [upload("Dupont_Léa.pdf", pdf_bytes(2)), upload("Martin Hugo.pdf", pdf_bytes(1))]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert [c["student"] for c in response.json()["created"]] == ["Dupont Léa", "Martin Hugo"]
    copies = list(Copy.objects.order_by("id"))
    assert [(c.student_label, c.first_page, c.last_page) for c in copies] == [
        ("Dupont Léa", 1, 2),
        ("Martin Hugo", 1, 1),
    ]
    stored = media_files()
    assert len(stored) == 2
    assert all("Dupont" not in path.name and "Martin" not in path.name for path in stored)
    assert SourceFile.objects.get(original_name="Dupont_Léa.pdf").page_count == 2


def test_it_keeps_the_good_files_of_a_mixed_batch(owner_client, teacher, media_files):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [upload("bon.pdf", pdf_bytes(1)), upload("vide.pdf", b"")]},
        headers={"Accept": "application/json"},
    )
    body = response.json()
    assert [c["student"] for c in body["created"]] == ["bon"]
    assert body["errors"] == [{"name": "vide.pdf", "message": "Le fichier est vide."}]
    assert Copy.objects.count() == 1
    assert len(media_files()) == 1


def test_it_serves_the_original_to_its_owner(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    data = pdf_bytes(1)
    owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [upload("copie.pdf", data)]})
    source = SourceFile.objects.get()
    response = owner_client.get(reverse("source_file", args=[source.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == data


def test_it_splits_a_class_pdf_by_fixed_pages(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    response = owner_client.post(
        reverse("class_upload", args=[exam.pk]), {"file": upload("classe.pdf", pdf_bytes(7)), "pages_per_student": 2}
    )
    source = SourceFile.objects.get()
    assert response["Location"] == reverse("source_split", args=[source.pk]) + "?pages=2"
    assert not Copy.objects.exists()
    review = owner_client.get(response["Location"])
    initial = [(f.initial["first_page"], f.initial["last_page"]) for f in review.context["formset"].forms if f.initial]
    assert initial == [(1, 2), (3, 4), (5, 6), (7, 7)]
    # The one empty row after them says what it is for.
    text = html.unescape(review.content.decode())
    assert text.count('data-testid="split-row-new"') == 1
    assert "Une copie de plus ? Remplissez cette ligne (laissée vide, elle est ignorée)." in text
    assert text.index('data-testid="split-row-new"') > text.rindex('value="7"')


def split_post(rows: list[tuple[str, int, int]]) -> dict:
    data = {"rows-TOTAL_FORMS": len(rows), "rows-INITIAL_FORMS": len(rows)}
    for i, (label, first, last) in enumerate(rows):
        data |= {f"rows-{i}-student_label": label, f"rows-{i}-first_page": first, f"rows-{i}-last_page": last}
    return data


def class_source(client, exam, pages=6):
    client.post(reverse("class_upload", args=[exam.pk]), {"file": upload("classe.pdf", pdf_bytes(pages))})
    return SourceFile.objects.get()


def test_the_teacher_corrects_and_confirms_the_split(owner_client, teacher):
    exam = ExamFactory(owner=teacher)
    source = class_source(owner_client, exam)
    response = owner_client.post(reverse("source_split", args=[source.pk]), split_post([("Léa", 1, 3), ("Hugo", 4, 6)]))
    assert response.status_code == 302
    assert list(Copy.objects.values_list("student_label", "first_page", "last_page", "source")) == [
        ("Léa", 1, 3, source.pk),
        ("Hugo", 4, 6, source.pk),
    ]
    # Re-confirming replaces the copies rather than adding to them.
    owner_client.post(reverse("source_split", args=[source.pk]), split_post([("Léa", 1, 2), ("Hugo", 3, 6)]))
    assert list(Copy.objects.values_list("first_page", "last_page")) == [(1, 2), (3, 6)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("Léa", 1, 4), ("Hugo", 4, 6)], "Ligne 2 : ces pages chevauchent la copie précédente."),
        ([("Léa", 1, 7)], "Ligne 1 : les pages doivent aller de 1 à 6, la première avant la dernière."),
        ([("Léa", 3, 2)], "Ligne 1 : les pages doivent aller de 1 à 6, la première avant la dernière."),
    ],
)
def test_it_refuses_an_inconsistent_split(owner_client, teacher, rows, message):
    exam = ExamFactory(owner=teacher)
    source = class_source(owner_client, exam)
    response = owner_client.post(reverse("source_split", args=[source.pk]), split_post(rows))
    assert response.status_code == 200
    assert message in response.text
    assert not Copy.objects.exists()


def test_removing_a_copy_removes_its_file(owner_client, teacher, media_files, django_capture_on_commit_callbacks):
    exam = ExamFactory(owner=teacher)
    owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [upload("a.pdf", pdf_bytes(1))]})
    copy = Copy.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("copy_delete", args=[copy.pk]))
    assert not Copy.objects.exists()
    assert media_files() == []
    assert not SourceFile.objects.exists()


def test_a_pdf_without_pages_is_named_so_even_after_a_damaged_file():
    # pdfium's last error is process-wide and a page-less PDF sets none: the damaged file's
    # error used to leak into the next verdict.

    from grading.validation import PdfInvalid, pdf_validate

    damaged = SimpleUploadedFile("abime.pdf", b"%PDF-1.4\nnot really a pdf\n%%EOF\n")
    without_pages = SimpleUploadedFile(
        "vide.pdf", raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])
    )
    with pytest.raises(PdfInvalid, match="illisible"):
        pdf_validate(damaged)
    with pytest.raises(PdfInvalid, match="aucune page"):
        pdf_validate(without_pages)


def test_files_sent_one_by_one_are_announced_once_for_the_whole_batch(owner_client, teacher):
    """The upload script sends one file per request: the page then says « 3 copies ajoutées »
    once, not « 1 copie ajoutée. » three times; a refused file keeps its own message."""
    exam = ExamFactory(owner=teacher)
    names = ["Léa.pdf", "Hugo.pdf", "vide.pdf", "Inès.pdf"]
    for index, name in enumerate(names):
        data = {"files": [upload(name, b"" if name == "vide.pdf" else pdf_bytes(index + 1))], "batch": "b1"}
        if index == len(names) - 1:
            data["last"] = "1"
        owner_client.post(reverse("copies_upload", args=[exam.pk]), data, headers={"Accept": "application/json"})

    text = html.unescape(owner_client.get(reverse("exam_detail", args=[exam.pk])).text)
    assert text.count("copies ajoutées.") == 1 and "3 copies ajoutées." in text
    assert "1 copie ajoutée." not in text
    assert "vide.pdf : Le fichier est vide." in text
    # The next batch counts from zero.
    owner_client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [upload("Zoé.pdf", pdf_bytes(4))], "batch": "b2", "last": "1"},
        headers={"Accept": "application/json"},
    )
    assert "1 copie ajoutée." in html.unescape(owner_client.get(reverse("exam_detail", args=[exam.pk])).text)
