"""Pronote's codes in both exports, without grading anything (test_class_exports.py grades a
class through the engine for the marks): a student with no copy is Abs, the teacher's Disp and
N.Not replace whatever the copy has, a copy not graded yet has no mark, and a copy matched
to nobody comes after the class list. Built through the pages a teacher uses."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading.models import Copy
from rosters.models import Student

from .classes import class_imported, copy_pdf, copy_student_confirm, exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

ROSTER = "ABADIE Léa\nDUBOIS Chloé\nMARTIN Lucas\nZAÏDI Inès\n"


@pytest.fixture
def exam(owner_client):
    school_class = class_imported(owner_client, roster=ROSTER)
    exam = exam_for_class(owner_client, school_class)  # 4 + 6 points
    files = [SimpleUploadedFile(name, copy_pdf(name, name)) for name in ("abadie.pdf", "martin.pdf", "inconnu.pdf")]
    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]), {"files": files}, headers={"Accept": "application/json"}
    )
    copies = {
        copy.student_label: copy for copy in Copy.objects.filter(pk__in=[c["id"] for c in response.json()["created"]])
    }
    students = {s.last_name: s for s in Student.objects.filter(school_class=school_class)}
    copy_student_confirm(owner_client, copies["abadie"], students["ABADIE"])
    copy_student_confirm(owner_client, copies["martin"], students["MARTIN"])
    copy_student_confirm(owner_client, copies["inconnu"], None)
    owner_client.post(reverse("exam_student_status", args=[exam.pk, students["MARTIN"].pk]), {"status": "not_graded"})
    owner_client.post(reverse("exam_student_status", args=[exam.pk, students["ZAÏDI"].pk]), {"status": "excused"})
    return exam


def rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_the_table_gives_each_line_its_code_and_no_mark_to_a_copy_not_graded(owner_client, exam):
    table = rows(owner_client.get(reverse("exam_export", args=[exam.pk, "csv"])))

    assert table == [
        ["Élève", "Q1 Exercice 1 (/4)", "Q2 Exercice 2 (/6)", "Total (/10)", "Note /20", "Appréciation"],
        ["ABADIE Léa", "", "", "", "", ""],
        ["DUBOIS Chloé", "", "", "Abs", "Abs", ""],
        ["MARTIN Lucas", "", "", "N.Not", "N.Not", ""],
        ["ZAÏDI Inès", "", "", "Disp", "Disp", ""],
        ["inconnu", "", "", "", "", ""],
    ]


@pytest.mark.parametrize(("scale", "maximum"), [("20", "20"), ("bareme", "10")])
def test_the_pronote_file_gives_the_codes_and_leaves_a_copy_not_graded_empty(owner_client, exam, scale, maximum):
    url = reverse("exam_export_pronote", args=[exam.pk, "csv"]) + f"?scale={scale}"

    assert rows(owner_client.get(url)) == [
        ["Élève", f"Note /{maximum}", "Appréciation"],
        ["ABADIE Léa", "", ""],
        ["DUBOIS Chloé", "Abs", ""],
        ["MARTIN Lucas", "N.Not", ""],
        ["ZAÏDI Inès", "Disp", ""],
        ["inconnu", "", ""],
    ]
    column = owner_client.get(reverse("exam_review", args=[exam.pk])).content.decode()
    assert '<textarea id="pronote-column" class="copy-source" readonly hidden>\nAbs\nN.Not\nDisp\n</textarea>' in column


def test_the_workbooks_hold_the_codes_as_text_under_a_bold_header(owner_client, exam):
    from openpyxl import load_workbook

    table = load_workbook(io.BytesIO(owner_client.get(reverse("exam_export", args=[exam.pk, "xlsx"])).content)).active
    assert (table.title, table.freeze_panes, table.column_dimensions["A"].width) == ("Notes", "B2", 28)
    assert all(cell.font.bold for cell in table[1])
    assert [(cell.value, cell.data_type) for cell in table[3]][:5] == [
        ("DUBOIS Chloé", "s"),
        (None, "n"),
        (None, "n"),
        ("Abs", "s"),
        ("Abs", "s"),
    ]
    assert all(
        row[-1].alignment.wrap_text and row[-1].alignment.vertical == "top" for row in table.iter_rows(min_row=2)
    )

    url = reverse("exam_export_pronote", args=[exam.pk, "xlsx"])
    pronote = load_workbook(io.BytesIO(owner_client.get(url).content)).active
    assert (pronote.title, pronote.column_dimensions["A"].width, pronote.column_dimensions["C"].width) == (
        "Pronote",
        30,
        60,
    )
    assert [cell.value for cell in pronote[1]] == ["Élève", "Note /20", "Appréciation"]
    assert all(cell.font.bold for cell in pronote[1])
    assert [[cell.value for cell in row] for row in pronote.iter_rows(min_row=2)] == [
        ["ABADIE Léa", None, None],
        ["DUBOIS Chloé", "Abs", None],
        ["MARTIN Lucas", "N.Not", None],
        ["ZAÏDI Inès", "Disp", None],
        ["inconnu", None, None],
    ]
