from __future__ import annotations

import csv
import io
import json
import zipfile
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from grading import services
from grading.models import GradeEdit, Page, SourceFile
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory
from tests.grading.workflow.pdfs import pdf_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def exam(teacher):
    exam = ExamFactory(owner=teacher, title="Équations")
    q1 = QuestionFactory(exam=exam, label="Résoudre", max_points=Decimal("4"))
    q2 = QuestionFactory(exam=exam, label="Vérifier", max_points=Decimal("6"))
    lea = CopyFactory(exam=exam, student_label="Léa Dupré")
    hugo = CopyFactory(exam=exam, student_label="Hugo Müller")
    GradeFactory(copy=lea, question=q1, points=Decimal("3.5"), feedback="Très bien, méthode claire.")
    grade = GradeFactory(copy=lea, question=q2, points=Decimal("4"), feedback="Vérification incomplète.")
    GradeFactory(copy=hugo, question=q1, points=Decimal("1"), feedback="Revoir le cours.")
    GradeFactory(copy=hugo, question=q2, points=Decimal("6"), feedback="Parfait.")
    GradeEdit.objects.create(grade=grade, user=teacher, before="3.00", after="4")
    return exam


def test_the_csv_opens_in_french_excel(owner_client, exam):
    response = owner_client.get(reverse("exam_export", args=[exam.pk, "csv"]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "Élève",
        "Q1 Résoudre (/4)",
        "Q2 Vérifier (/6)",
        "Total (/10)",
        "Note /20",
        "Appréciation",
    ]
    assert rows[1][:5] == ["Hugo Müller", "1", "6", "7", "14"]
    assert rows[2][:5] == ["Léa Dupré", "3,5", "4", "7,5", "15"]
    assert rows[2][5] == "Q1 : Très bien, méthode claire.\nQ2 : Vérification incomplète."


def test_the_xlsx_reads_back(owner_client, exam):
    response = owner_client.get(reverse("exam_export", args=[exam.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Élève"
    assert values[1][:5] == ("Hugo Müller", 1, 6, 7, 14)
    assert values[2][:5] == ("Léa Dupré", 3.5, 4, 7.5, 15)
    assert "Très bien" in values[2][5]


# Student names as they come from uploaded file names: each would be a live formula.
HOSTILE_FILES = ["=cmd|' -C calc'!A0.pdf", "+33 6 12 34 56 78.pdf", "-2+3+cmd|' -C calc'!A0.pdf", "@SUM(1+9)*cmd.pdf"]
NEUTRALISED = ["'=cmd|' -C calc'!A0", "'+33 6 12 34 56 78", "'-2+3+cmd|' -C calc'!A0", "'@SUM(1+9)*cmd"]


@pytest.fixture
def hostile_exam(owner_client, exam):
    files = [SimpleUploadedFile(name, pdf_bytes(1), content_type="application/pdf") for name in HOSTILE_FILES]
    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]), {"files": files}, headers={"Accept": "application/json"}
    )
    assert [c["student"] for c in response.json()["created"]] == [name.removesuffix(".pdf") for name in HOSTILE_FILES]
    return exam


def test_the_csv_neutralises_cells_that_a_spreadsheet_would_run_as_formulas(owner_client, hostile_exam):
    raw = owner_client.get(reverse("exam_export", args=[hostile_exam.pk, "csv"])).content
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    names = [row[0] for row in rows[1:]]
    assert sorted(names) == sorted(["Hugo Müller", "Léa Dupré", *NEUTRALISED])
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # Numbers are left alone: the graded rows still read as numbers.
    assert next(row for row in rows if row[0] == "Léa Dupré")[1:5] == ["3,5", "4", "7,5", "15"]


def test_the_xlsx_writes_names_as_text_never_as_formulas(owner_client, hostile_exam):
    raw = owner_client.get(reverse("exam_export", args=[hostile_exam.pk, "xlsx"])).content
    sheet = load_workbook(io.BytesIO(raw)).active
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value is not None]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    names = {row[0].value: row[0].data_type for row in sheet.iter_rows(min_row=2)}
    assert names == {name: "s" for name in ["Hugo Müller", "Léa Dupré", *NEUTRALISED]}
    assert b"<f>" not in _sheet_xml(raw)
    lea = next(row for row in sheet.iter_rows(min_row=2) if row[0].value == "Léa Dupré")
    assert [(c.value, c.data_type) for c in lea[1:5]] == [(3.5, "n"), (4, "n"), (7.5, "n"), (15, "n")]


def _sheet_xml(xlsx: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def test_a_cell_starting_with_a_formula_character_is_neutralised_and_a_negative_number_is_not():
    from grading.exports.tables import cell_text

    assert [cell_text(v) for v in ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "a=1", "", "'=x"]] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@A1",
        "'\tx",
        "'\rx",
        "a=1",
        "",
        "'=x",
    ]
    workbook_row = _xlsx_row([-1.5, "-1,5", "x"])
    assert workbook_row == [(-1.5, "n"), ("'-1,5", "s"), ("x", "s")]


def _xlsx_row(values):
    from openpyxl import Workbook

    from grading.exports.tables import xlsx_append

    sheet = Workbook().active
    xlsx_append(sheet, values)
    return [(cell.value, cell.data_type) for cell in sheet[1]]


def test_the_json_carries_the_audit(owner_client, exam, teacher):
    response = owner_client.get(reverse("exam_export", args=[exam.pk, "json"]))
    data = json.loads(response.content)
    lea = next(c for c in data["copies"] if c["student"] == "Léa Dupré")
    edited = lea["grades"][1]
    assert edited["edits"][0]["user"] == teacher.email
    assert (edited["edits"][0]["before"], edited["edits"][0]["after"]) == ("3.00", "4")
    assert data["exam"]["bareme_total"] == "10.00"


def test_the_annotated_pdf_has_the_copys_pages(owner_client, exam):
    copy = exam.copies.get(student_label="Léa Dupré")
    source = SourceFile.objects.create(exam=exam, original_name="lea.pdf", page_count=3)
    source.file.save("lea.pdf", ContentFile(pdf_bytes(3)), save=True)
    copy.source, copy.first_page, copy.last_page = source, 2, 3
    copy.save()
    response = owner_client.get(reverse("copy_annotated", args=[copy.pk]))
    assert response["Content-Type"] == "application/pdf"
    document = pdfium.PdfDocument(response.content)
    assert len(document) == 1 + 2  # the summary, then pages 2 and 3 of the file
    assert [document[i].get_size() for i in range(3)] == [(595, 842)] * 3  # A4 stays A4


def test_the_annotated_pdf_uses_rendered_pages(owner_client, exam):
    from tests.factories import jpeg_bytes

    copy = exam.copies.get(student_label="Hugo Müller")
    for index in (1, 2):
        page = Page(copy=copy, index=index, width=200, height=280)
        page.image.save("p.jpg", ContentFile(jpeg_bytes(f"page {index}")), save=True)
    document = pdfium.PdfDocument(owner_client.get(reverse("copy_annotated", args=[copy.pk])).content)
    assert len(document) == 1 + 2
    # Without the source file, each image on a page of its proportions, the long side A4's.
    width, height = document[1].get_size()
    assert height == pytest.approx(841.89, abs=0.01) and width / height == pytest.approx(200 / 280, abs=0.01)


def test_the_zip_has_one_annotated_pdf_per_copy(owner_client, teacher, exam):
    # Built by a worker (test_export_files.py runs one); here the task's service, in-process.
    export = services.export_start(exam=exam, user=teacher, fmt="zip")
    services.export_build(export=export)
    response = owner_client.get(reverse("export_download", args=[export.pk]))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = sorted(archive.namelist())
    assert len(names) == 2
    assert names[0].startswith("hugo-muller-")
    for name in names:
        assert len(pdfium.PdfDocument(archive.read(name))) == 1


def test_an_unknown_format_is_a_404(owner_client, exam):
    assert owner_client.get(reverse("exam_export", args=[exam.pk, "docx"])).status_code == 404


def test_the_pronote_files_neutralise_formulas_too(owner_client, hostile_exam):
    csv_raw = owner_client.get(reverse("exam_export_pronote", args=[hostile_exam.pk, "csv"])).content
    rows = list(csv.reader(io.StringIO(csv_raw.decode("utf-8-sig")), delimiter=";"))
    assert sorted(row[0] for row in rows[1:]) == sorted(["Hugo Müller", "Léa Dupré", *NEUTRALISED])
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]

    xlsx_raw = owner_client.get(reverse("exam_export_pronote", args=[hostile_exam.pk, "xlsx"])).content
    sheet = load_workbook(io.BytesIO(xlsx_raw)).active
    assert b"<f>" not in _sheet_xml(xlsx_raw)
    names = {row[0].value: row[0].data_type for row in sheet.iter_rows(min_row=2)}
    assert names == {name: "s" for name in ["Hugo Müller", "Léa Dupré", *NEUTRALISED]}
    # The marks stay text typed as Pronote reads them.
    marks = {row[0].value: (row[1].value, row[1].data_type) for row in sheet.iter_rows(min_row=2) if row[1].value}
    assert marks == {"Hugo Müller": ("14", "s"), "Léa Dupré": ("15", "s")}


def test_the_json_names_every_field_of_the_exam_its_questions_copies_grades_and_edits(owner_client, exam, teacher):
    data = json.loads(owner_client.get(reverse("exam_export", args=[exam.pk, "json"])).content)

    assert sorted(data) == ["agreement", "copies", "cost", "exam", "exported_at", "questions"]
    assert data["exam"] == {
        "id": exam.pk,
        "title": "Équations",
        "subject": exam.subject,
        "level": exam.level,
        "language": exam.language,
        "mode": exam.mode,
        "rounding_step": "0.50",
        "bareme_total": "10.00",
        "files_purged_at": None,
    }
    q1, q2 = exam.questions.order_by("order", "pk")
    assert data["questions"] == [
        {"id": q1.pk, "order": 1, "label": "Résoudre", "max_points": "4.00", "criteria": q1.criteria},
        {"id": q2.pk, "order": 2, "label": "Vérifier", "max_points": "6.00", "criteria": q2.criteria},
    ]
    lea = next(c for c in data["copies"] if c["student"] == "Léa Dupré")
    copy = exam.copies.get(student_label="Léa Dupré")
    assert {key: value for key, value in lea.items() if key != "grades"} == {
        "id": copy.pk,
        "student": "Léa Dupré",
        "status": copy.status,
        "reviewed": copy.reviewed,
        "flagged_manipulation": False,
        "manipulation_reason": "",
        "appreciation": "",
        "appreciation_ai": "",
        "appreciation_stale": False,
        "total": "7.50",
        "on_twenty": "15.00",
        "model_answers": [],
    }
    first, edited = lea["grades"]
    grade = copy.grades.get(question=q2)
    assert edited == {
        "question": q2.pk,
        "points": "4.00",
        "ai_points": str(grade.ai_points),
        "max_points": "6.00",
        "edited": grade.edited,
        "reading": grade.reading,
        "reasoning": grade.reasoning,
        "feedback": "Vérification incomplète.",
        "ai_feedback": grade.ai_feedback,
        "feedback_stale": False,  # the teacher wrote their own
        "confidence": grade.confidence,
        "disagreement": grade.disagreement,
        "resolution": grade.resolution,
        "engine_audit": grade.audit,
        "edits": [
            {"user": teacher.email, "at": edited["edits"][0]["at"], "field": "points", "before": "3.00", "after": "4"}
        ],
    }
    assert (first["question"], first["points"], first["edits"]) == (q1.pk, "3.50", [])
