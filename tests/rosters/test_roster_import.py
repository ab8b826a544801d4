"""Class lists imported through the class page: three realistic layouts, and broken ones."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from rosters.importing import split_full_name
from rosters.models import SchoolClass, Student

from .layouts import CLASS_3B, ent_xlsx, pasted_from_spreadsheet, pasted_names, pronote_csv, xlsx_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def school_class(teacher):
    return SchoolClass.objects.create(teacher=teacher, name="3e B", level="3e", school_year="2026-2027")


def _import(client, school_class, *, data: bytes | None = None, name: str = "liste.csv", text: str = ""):
    payload = {"text": text}
    if data is not None:
        payload["file"] = SimpleUploadedFile(name, data)
    return client.post(reverse("roster_import", args=[school_class.pk]), payload)


def _roster(school_class) -> list[tuple[str, str]]:
    return [(s.last_name, s.first_name) for s in Student.objects.filter(school_class=school_class)]


def test_it_imports_pronotes_class_list_in_windows_1252_with_semicolons(owner_client, school_class):
    response = _import(owner_client, school_class, data=pronote_csv(), name="3eB.csv")

    assert response.status_code == 302
    expected = [(last.replace("Ø", "O").replace("Å", "A"), first) for last, first in CLASS_3B]
    assert _roster(school_class) == expected
    students = list(Student.objects.filter(school_class=school_class))
    assert [s.email for s in students[:3]] == ["eleve1@college.example", "eleve2@college.example", ""]
    assert students[2].display_name == "DE LA FONTAINE Jean-Baptiste"
    page = owner_client.get(reverse("class_detail", args=[school_class.pk])).content.decode()
    assert "10 élèves importés." in page
    assert "N&#x27;DIAYE" in page


def test_it_imports_an_ent_workbook_with_title_rows_above_the_header(owner_client, school_class):
    response = _import(owner_client, school_class, data=ent_xlsx(), name="classe.xlsx")

    assert response.status_code == 302
    assert _roster(school_class) == [(last.title(), first) for last, first in CLASS_3B]
    first = Student.objects.filter(school_class=school_class).first()
    assert (first.number, first.email) == ("100001", "eleve1@college.example")


def test_it_imports_columns_pasted_from_a_spreadsheet(owner_client, school_class):
    _import(owner_client, school_class, text=pasted_from_spreadsheet())

    assert _roster(school_class) == CLASS_3B


def test_it_imports_names_typed_one_per_line(owner_client, school_class):
    _import(owner_client, school_class, text=pasted_names())

    assert _roster(school_class) == [*CLASS_3B[:5], ("ZAÏDI", "Inès")]


def test_importing_the_same_list_twice_adds_nobody_and_says_so(owner_client, school_class):
    _import(owner_client, school_class, text=pasted_from_spreadsheet())
    response = _import(owner_client, school_class, data=pronote_csv())

    assert len(_roster(school_class)) == 11  # only ØSTERGÅRD, written OSTERGARD by Pronote, is new
    page = owner_client.get(response.url).content.decode()
    assert "1 élève importé. 9 déjà dans la liste, laissés tels quels." in page


def test_new_students_join_the_end_of_the_list_in_their_order(owner_client, school_class):
    _import(owner_client, school_class, text="DUBOIS Chloé\nABADIE Léa")
    _import(owner_client, school_class, text="MARTIN Lucas")

    assert _roster(school_class) == [("DUBOIS", "Chloé"), ("ABADIE", "Léa"), ("MARTIN", "Lucas")]


@pytest.mark.parametrize(
    ("text", "last", "first"),
    [
        ("DE LA FONTAINE Jean-Baptiste", "DE LA FONTAINE", "Jean-Baptiste"),
        ("N'DIAYE Awa", "N'DIAYE", "Awa"),
        ("Dubois, Chloé", "Dubois", "Chloé"),
        ("Dubois Chloé", "Dubois", "Chloé"),
        ("DUBOIS CHLOÉ", "DUBOIS", "CHLOÉ"),
        ("MARTIN-DUVAL Anne-Sophie", "MARTIN-DUVAL", "Anne-Sophie"),
        ("Lucas", "Lucas", ""),
    ],
)
def test_nom_prenom_in_one_column_splits_at_the_capitals(text, last, first):
    assert split_full_name(text) == (last, first)


# --- Broken lists: a translated error naming the line, nothing imported ----------------------


def _refused(client, school_class, **kwargs) -> str:
    response = _import(client, school_class, **kwargs)
    assert response.status_code == 400
    assert Student.objects.filter(school_class=school_class).count() == 0
    return response.content.decode()


def test_a_line_without_a_name_is_named_and_nothing_is_imported(owner_client, school_class):
    data = "Nom;Prénom;Mail\nDUBOIS;Chloé;\n;Théo;theo@college.example\nMARTIN;Lucas;\n".encode()

    page = _refused(owner_client, school_class, data=data)

    assert "Rien n&#x27;a été importé. Ligne 3 : le nom de l&#x27;élève est vide." in page


def test_a_bad_email_is_named_with_its_line_in_a_workbook(owner_client, school_class):
    data = xlsx_bytes([["Nom", "Prénom", "Courriel"], ["DUBOIS", "Chloé", "chloe@college"], ["MARTIN", "Lucas", ""]])

    page = _refused(owner_client, school_class, data=data, name="liste.xlsx")

    assert "Ligne 2 : « chloe@college » n&#x27;est pas une adresse e-mail valide." in page


def test_many_broken_lines_are_summed_up_after_five(owner_client, school_class):
    data = ("Nom;Prénom\n" + ";x\n" * 8).encode()

    page = _refused(owner_client, school_class, data=data)

    assert "Ligne 6 : le nom" in page and "Ligne 7" not in page
    assert "… et 3 autres lignes." in page


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj", "liste.pdf", "Ce fichier n&#x27;est ni un CSV ni un classeur XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "liste.xls", "Les classeurs .xls (Excel 97-2003)"),
        (b"PK\x03\x04" + b"not really a zip" * 10, "liste.xlsx", "Ce classeur XLSX est illisible"),
        ("Nom;Prénom\n".encode() + b"DUBOIS;Chlo\x81\x8d\n", "liste.csv", "ni UTF-8 ni Windows-1252"),
        (b"Nom;Prenom\n\n\n", "vide.csv", "Aucun élève trouvé"),
        (b"x" * 1_000_001, "gros.csv", "Ce fichier dépasse 1 Mo"),
    ],
    ids=["pdf", "xls", "broken-xlsx", "undecodable", "no-student", "too-big"],
)
def test_a_file_that_is_no_class_list_is_refused_with_a_reason(owner_client, school_class, data, name, message):
    assert message in _refused(owner_client, school_class, data=data, name=name)


def test_a_list_of_exactly_200_students_imports_and_201_does_not(owner_client, school_class):
    names = "".join(f"ELEVE{n} Prénom\n" for n in range(201))

    page = _refused(owner_client, school_class, text=names)
    assert "201 élèves, plus que les 200" in page

    assert _import(owner_client, school_class, text=names.split("\n", 1)[1]).status_code == 302
    assert Student.objects.filter(school_class=school_class).count() == 200


def test_an_empty_form_asks_for_a_file_or_a_list(owner_client, school_class):
    assert "Choisissez un fichier ou collez la liste" in _refused(owner_client, school_class, text="  ")


@pytest.fixture
def english_teacher(teacher):
    teacher.language = "en"
    teacher.save()
    yield teacher
    # The request activated English in this thread: later tests of this worker expect French.
    translation.activate(settings.LANGUAGE_CODE)


def test_the_errors_are_translated(owner_client, school_class, english_teacher):
    page = _refused(owner_client, school_class, data=b"Nom;Prenom\n;Theo\n", name="l.csv")

    assert "Nothing was imported. Line 2: the student&#x27;s last name is empty." in page
