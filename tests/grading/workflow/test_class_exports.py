"""A class exam's grid and exports follow the class list: absent students included, Pronote's
codes, the Pronote-ready file's exact bytes, the column for the clipboard; the same file
uploaded twice is refused."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from grading.models import Copy, ExamStudent, SourceFile
from rosters.models import SchoolClass, Student

from .classes import class_imported, copies_graded, copies_uploaded, copy_pdf, copy_student_confirm, exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

ROSTER = "ABADIE Léa\nDUBOIS Chloé\nMARTIN Lucas\nZAÏDI Inès\n"
LONG = (
    "Très bon travail sur la construction du triangle, les étapes sont claires et justifiées ; "
    "attention cependant aux unités dans la dernière question, où le résultat est donné sans unité, "
    "et pense à relire l'énoncé : la figure demandait aussi le cercle circonscrit, qui manque ici, "
    "ce qui coûte des points précieux."
)


@pytest.fixture
def graded(owner_client, teacher, llm_server):
    """Three copies of four students (Dubois has none), uploaded out of the list's order."""
    school_class = class_imported(owner_client, roster=ROSTER)
    exam = exam_for_class(owner_client, school_class, questions=(("Ex. 1", "4"), ("Ex. 2", "6"), ("Ex. 3", "5")))
    copies = copies_uploaded(
        owner_client,
        exam,
        {
            "scan-03.pdf": ("Zaïdi Inès", "COPIE-Z"),
            "scan-01.pdf": ("Léa Abadie", "COPIE-A"),
            "scan-02.pdf": ("L. Martin", "COPIE-M"),
        },
    )
    students = {s.last_name: s for s in school_class.students.all()}
    copy_student_confirm(owner_client, copies["scan-03.pdf"], students["ZAÏDI"])
    copy_student_confirm(owner_client, copies["scan-01.pdf"], students["ABADIE"])
    copy_student_confirm(owner_client, copies["scan-02.pdf"], students["MARTIN"])
    copies_graded(
        exam,
        teacher,
        llm_server,
        {"COPIE-A": [3.5, 5, 3], "COPIE-M": [1, 2.5, 0], "COPIE-Z": [4, 5.5, 4.5]},
        feedback={"COPIE-A": LONG},
    )
    return exam, students


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))


def test_the_csv_follows_the_class_list_with_the_absent_student(owner_client, graded):
    exam, _students = graded

    rows = _csv(owner_client.get(reverse("exam_export", args=[exam.pk, "csv"])))

    assert [row[0] for row in rows[1:]] == ["ABADIE Léa", "DUBOIS Chloé", "MARTIN Lucas", "ZAÏDI Inès"]
    assert rows[1][1:6] == ["3,5", "5", "3", "11,5", "15,33"]
    assert rows[2] == ["DUBOIS Chloé", "", "", "", "Abs", "Abs", ""]


def test_the_xlsx_follows_the_class_list_too(owner_client, graded):
    exam, _students = graded

    response = owner_client.get(reverse("exam_export", args=[exam.pk, "xlsx"]))

    values = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert [row[0] for row in values[1:]] == ["ABADIE Léa", "DUBOIS Chloé", "MARTIN Lucas", "ZAÏDI Inès"]
    assert values[2][4:6] == ("Abs", "Abs")
    assert values[4][1:5] == (4, 5.5, 4.5, 14)


def test_the_grid_lists_the_absent_student_and_the_teacher_marks_her_excused(owner_client, graded):
    exam, students = graded
    page = owner_client.get(reverse("exam_review", args=[exam.pk])).content.decode()
    assert page.index("ABADIE Léa") < page.index("MARTIN Lucas") < page.index("ZAÏDI Inès")
    assert 'data-testid="missing-student"' in page and "DUBOIS Chloé" in page

    owner_client.post(reverse("exam_student_status", args=[exam.pk, students["DUBOIS"].pk]), {"status": "excused"})
    owner_client.post(reverse("exam_student_status", args=[exam.pk, students["MARTIN"].pk]), {"status": "not_graded"})

    rows = _csv(owner_client.get(reverse("exam_export", args=[exam.pk, "csv"])))
    assert rows[2][4:6] == ["Disp", "Disp"]
    assert rows[3][1:6] == ["1", "2,5", "0", "N.Not", "N.Not"]
    owner_client.post(reverse("exam_student_status", args=[exam.pk, students["DUBOIS"].pk]), {"status": ""})
    assert not ExamStudent.objects.filter(student=students["DUBOIS"]).exists()
    assert _csv(owner_client.get(reverse("exam_export", args=[exam.pk, "csv"])))[2][4] == "Abs"


def test_a_status_for_a_student_of_another_class_is_a_404(owner_client, graded, teacher):
    exam, _students = graded
    other = SchoolClass.objects.create(teacher=teacher, name="4e A")
    stranger = Student.objects.create(school_class=other, last_name="X", first_name="Y")

    response = owner_client.post(reverse("exam_student_status", args=[exam.pk, stranger.pk]), {"status": "excused"})

    assert response.status_code == 404
    assert not ExamStudent.objects.exists()


def test_an_unknown_status_is_refused_with_a_message(owner_client, graded):
    exam, students = graded

    response = owner_client.post(
        reverse("exam_student_status", args=[exam.pk, students["DUBOIS"].pk]), {"status": "vacances"}, follow=True
    )

    assert "Statut inconnu." in response.content.decode()
    assert not ExamStudent.objects.exists()


# --- The same file twice -------------------------------------------------------------------


def test_the_same_file_uploaded_again_under_another_name_is_refused(owner_client, teacher, media_files):
    exam = exam_for_class(owner_client, None)
    data = copy_pdf("Léa Abadie", "COPIE-A")
    owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [SimpleUploadedFile("a.pdf", data)]})
    stored = media_files()

    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [SimpleUploadedFile("copie-lea (1).pdf", data)]},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "name": "copie-lea (1).pdf",
            "message": "Ce fichier a déjà été déposé pour cette correction (« a.pdf ») : "
            "il n'est pas ajouté une seconde fois.",
        }
    ]
    assert (Copy.objects.filter(exam=exam).count(), SourceFile.objects.filter(exam=exam).count()) == (1, 1)
    assert media_files() == stored


def test_the_same_file_twice_in_one_upload_is_kept_once(owner_client, teacher):
    exam = exam_for_class(owner_client, None)
    data = copy_pdf("Léa Abadie", "COPIE-A")

    response = owner_client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [SimpleUploadedFile("a.pdf", data), SimpleUploadedFile("b.pdf", data)]},
        headers={"Accept": "application/json"},
    )

    assert [c["student"] for c in response.json()["created"]] == ["a"]
    assert len(response.json()["errors"]) == 1


def test_a_file_one_byte_different_is_another_copy(owner_client, teacher):
    exam = exam_for_class(owner_client, None)
    first, second = copy_pdf("Léa Abadie", "COPIE-A"), copy_pdf("Léa Abadie", "COPIE-B")

    for name, data in (("a.pdf", first), ("b.pdf", second)):
        owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [SimpleUploadedFile(name, data)]})

    assert Copy.objects.filter(exam=exam).count() == 2


def test_the_same_file_in_another_exam_is_accepted(owner_client, teacher):
    data = copy_pdf("Léa Abadie", "COPIE-A")
    for _ in range(2):
        exam = exam_for_class(owner_client, None)
        owner_client.post(reverse("copies_upload", args=[exam.pk]), {"files": [SimpleUploadedFile("a.pdf", data)]})

    assert Copy.objects.count() == 2


# --- Pronote ---------------------------------------------------------------------------------

CUT = (
    "Très bon travail sur la construction du triangle, les étapes sont claires et justifiées ; attention "
    "cependant aux unités dans la dernière question, où le résultat est donné sans unité, et pense à relire "
    "l'énoncé : la figure demandait aussi le cercle…"
)


def test_the_pronote_csv_is_exactly_what_pronote_takes(owner_client, graded):
    exam, _students = graded

    response = owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "csv"]))

    assert response["Content-Disposition"] == 'attachment; filename="controle-de-geometrie-pronote.csv"'
    assert (
        response.content
        == (
            "\ufeffÉlève;Note /20;Appréciation\r\n"
            f'ABADIE Léa;15,5;"{CUT}"\r\n'
            "DUBOIS Chloé;Abs;\r\n"
            "MARTIN Lucas;4,5;Conseil pour q1. Conseil pour q2. Conseil pour q3.\r\n"
            "ZAÏDI Inès;18,5;Conseil pour q1. Conseil pour q2. Conseil pour q3.\r\n"
        ).encode()
    )
    assert len(CUT) == 250


def test_on_the_bareme_scale_the_marks_are_the_totals_rounded_to_the_step(owner_client, graded):
    exam, students = graded
    owner_client.post(reverse("exam_student_status", args=[exam.pk, students["MARTIN"].pk]), {"status": "not_graded"})

    response = owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "csv"]) + "?scale=bareme")

    lines = response.content.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Élève;Note /15;Appréciation"
    assert [line.split(";")[1] for line in lines[1:5]] == ["11,5", "Abs", "N.Not", "14"]


def test_the_pronote_xlsx_holds_the_marks_as_typed(owner_client, graded):
    exam, _students = graded

    response = owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "xlsx"]))

    values = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert values[0] == ("Élève", "Note /20", "Appréciation")
    assert [row[:2] for row in values[1:]] == [
        ("ABADIE Léa", "15,5"),
        ("DUBOIS Chloé", "Abs"),
        ("MARTIN Lucas", "4,5"),
        ("ZAÏDI Inès", "18,5"),
    ]
    assert values[1][2] == CUT


def test_the_review_page_carries_the_column_for_the_clipboard_in_roster_order(owner_client, graded):
    exam, _students = graded

    page = owner_client.get(reverse("exam_review", args=[exam.pk])).content.decode()

    column = '<textarea id="pronote-column" class="copy-source" readonly hidden>'
    assert column + "15,5\nAbs\n4,5\n18,5</textarea>" in page
    assert 'data-copy-from="#pronote-column"' in page and "js/clipboard.js" in page
    assert "<script>" not in page


def test_an_unknown_pronote_format_is_a_404_and_an_unknown_scale_is_20(owner_client, graded):
    exam, _students = graded

    assert owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "pdf"])).status_code == 404
    response = owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "csv"]) + "?scale=100")
    assert response.content.decode("utf-8-sig").startswith("Élève;Note /20;")


def test_the_operator_sets_the_appreciation_length(owner_client, graded, settings):
    exam, _students = graded
    settings.CORRIGO_PRONOTE_APPRECIATION_MAX = 40

    response = owner_client.get(reverse("exam_export_pronote", args=[exam.pk, "csv"]))

    first = response.content.decode("utf-8-sig").split("\r\n")[1]
    assert first == "ABADIE Léa;15,5;Très bon travail sur la construction du…"
    assert len(first.split(";")[2]) <= 40
