"""A teacher who reads Corrigo in English meets no French: the main pages, fragments and exports
of a class exam graded through the engine and the scripted server, read with the teacher's
language set to English. The students' own content (their names) is the only French allowed."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pypdfium2 as pdfium
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from grading.models import Copy, Exam
from tests.factories import copy_with_pages, exam_with_bareme
from tests.grading.helpers import grades_json

from .classes import class_imported, copies_uploaded, copy_student_confirm
from .test_student_links import _printed

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _language_kept():
    # Each page activates its reader's language in this thread (accounts.middleware): the next
    # module's tests get back the one they had.
    with translation.override(translation.get_language()):
        yield


ROSTER = "ABADIE Léa\nDUBOIS Chloé\nZAÏDI Inès\n"
# What the students are called: theirs, shown as they are in any language.
# "Français" is the language switch's choice, named in its own language.
STUDENT_WORDS = ("Français", "ABADIE", "Abadie", "Léa", "DUBOIS", "Dubois", "Chloé", "ZAÏDI", "Zaïdi", "Inès")
# Accents, guillemets and words of French sentences that English text does not use.
FRENCH = re.compile(
    r"[éèêëàâçùûîïôœÉÈÊÀÇ«»]|\b(?:le|la|les|des|du|une|un|est|sont|pas|pour|avec|dans|sur|aucun|aucune|"
    r"votre|vos|vous|copie|élève|élèves|barème|enregistrer|modifier|supprimer|ajouter|annuler|lancer|voir|"
    r"retour|classe|prénom|nom|moyenne|IA)\b"
)
VISIBLE_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-confirm", "data-copied", "aria-description")


def french_in(text: str) -> list[str]:
    """The French left in `text` once the students' words are taken out, with some context."""
    for word in STUDENT_WORDS:
        text = text.replace(word, "")
    return [text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ") for m in FRENCH.finditer(text)]


def visible_text(page: str) -> str:
    """What a reader meets on a page: text between tags and the attributes read out or shown."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    shown = "|".join(VISIBLE_ATTRIBUTES)
    attributes = [value for _name, value in re.findall(rf'\s({shown})="([^"]*)"', page)]
    text = re.sub(r"<[^>]+>", "\n", page)
    return html.unescape("\n".join([text, *attributes]))


def pdf_text(content: bytes) -> str:
    document = pdfium.PdfDocument(content)
    return "\n".join(document[i].get_textpage().get_text_range() for i in range(len(document)))


@pytest.fixture
def graded(owner_client, teacher, llm_server) -> Exam:
    """A class exam in English: three students on the list, two copies graded by the engine."""
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    school_class = class_imported(owner_client, roster=ROSTER)
    form = {"title": "Geometry test", "language": "en", "mode": "single", "rounding_step": "0.5"}
    response = owner_client.post(reverse("exam_create"), form | {"school_class": school_class.pk})
    exam = Exam.objects.get(pk=response.url.rstrip("/").rsplit("/", 1)[-1])
    for label, points in (("Triangle", "4"), ("Circle", "6")):
        owner_client.post(reverse("question_add", args=[exam.pk]), {"new-label": label, "new-max_points": points})
    copies = copies_uploaded(owner_client, exam, {"a.pdf": ("Abadie Léa", "COPY-A"), "z.pdf": ("Zaïdi Inès", "COPY-Z")})
    answer = {
        "readings": ["The triangle is right-angled.", "The circle has radius 3."],
        "reasonings": ["Right angle justified.", "Radius correct, area missing."],
        "feedbacks": ["Well justified.", "Give the area too."],
    }
    llm_server.script(grades_json([3, 4.5], **answer), match="COPY-A")
    llm_server.script(grades_json([1, 2], confidence=0.3, **answer), match="COPY-Z")
    owner_client.post(reverse("exam_start", args=[exam.pk]))
    from grading import services

    for copy in exam.copies.all():
        copy.refresh_from_db()
        if copy.status == Copy.Status.QUEUED:
            services.copy_grade(copy_id=copy.pk, job_id=copy.job_id, attempt=copy.attempt, lease_owner="test-task")
    students = {s.last_name: s for s in school_class.students.all()}
    copy_student_confirm(owner_client, copies["a.pdf"], students["ABADIE"])
    # Léa asks for a second look at question 2 from her link (the grid and her copy page list it).
    copies["a.pdf"].refresh_from_db()
    token = _printed(owner_client, exam)[copies["a.pdf"].student_label]
    asked = {"question": exam.questions.get(order=1).pk, "message": "I gave the radius on page 2."}
    assert Client().post(reverse("student_regrade", args=[token]), asked).status_code == 302
    exam.refresh_from_db()
    return exam


TEACHER_PAGES = (
    ("dashboard", None),
    ("exam_detail", "exam"),
    ("exam_edit", "exam"),
    ("exam_review", "exam"),
    ("question_review_first", "exam"),
    ("exam_progress", "exam"),
    ("exam_summary", "exam"),
    ("exam_appreciations", "exam"),
    ("exam_exports", "exam"),
    ("exam_links", "exam"),
    ("calibration_detail", "exam"),
    ("copy_detail", "copy"),
    ("class_list", None),
    ("class_detail", "class"),
    ("preferences", None),
    ("usage_bar", None),
    ("billing_pricing", None),
    ("billing_invoices", None),
)


def pages_read(client, exam: Exam) -> dict[str, list[str]]:
    """The French met on each teacher page (redirects followed), by page name."""
    args = {"exam": [exam.pk], "class": [exam.school_class_id], None: []}
    leaks = {}
    for name, kind in TEACHER_PAGES:
        if kind == "copy":
            urls = [reverse(name, args=[pk]) for pk in exam.copies.values_list("pk", flat=True)]
        else:
            urls = [reverse(name, args=args[kind])]
        for url in urls:
            response = client.get(url, follow=True)
            assert response.status_code == 200, url
            leaks[url] = french_in(visible_text(response.content.decode()))
    return leaks


def download(client, url: str) -> tuple[bytes, str]:
    response = client.get(url)
    assert response.status_code == 200, url
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return body, response["Content-Disposition"]


def test_the_teacher_pages_of_a_graded_class_exam_are_all_in_english(owner_client, graded):
    leaks = pages_read(owner_client, graded)

    assert {url: found for url, found in leaks.items() if found} == {}
    assert len(leaks) == len(TEACHER_PAGES) + 1  # two copy pages
    # Léa's request is on the grid, quoted as English quotes.
    grid = visible_text(owner_client.get(reverse("exam_review", args=[graded.pk])).content.decode())
    assert 'Circle: "I gave the radius on page 2."' in grid


def test_the_same_pages_in_french_are_caught_by_the_check(owner_client, teacher, graded):
    # The check reads what it should: the teacher back in French, every page shows French.
    teacher.language = "fr"
    teacher.save(update_fields=["language"])

    leaks = pages_read(owner_client, graded)

    assert [url for url, found in leaks.items() if not found] == []


def test_the_exports_and_their_file_names_are_in_english(owner_client, graded):
    exam, copy = graded, graded.copies.order_by("pk").first()
    texts = {}
    for fmt in ("csv", "json"):
        body, disposition = download(owner_client, reverse("exam_export", args=[exam.pk, fmt]))
        texts[fmt] = body.decode() + disposition
    body, disposition = download(owner_client, reverse("exam_export", args=[exam.pk, "xlsx"]))
    workbook = load_workbook(io.BytesIO(body))
    cells = [str(c.value) for sheet in workbook for row in sheet.iter_rows() for c in row if c.value is not None]
    texts["xlsx"] = "\n".join([*workbook.sheetnames, *cells, disposition])
    body, disposition = download(owner_client, reverse("copy_annotated", args=[copy.pk]))
    texts["annotated"] = pdf_text(body) + disposition
    body, disposition = download(owner_client, reverse("exam_summary_pdf", args=[exam.pk]))
    texts["summary"] = pdf_text(body) + disposition
    assert json.loads(texts["json"].split("attachment", 1)[0])["copies"]
    # The spreadsheet as English Excel opens it: commas between cells, decimal points.
    body, _disposition = download(owner_client, reverse("exam_export", args=[exam.pk, "csv"]))
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Student", "Q1 Triangle (/4)", "Q2 Circle (/6)"]
    assert ["3", "4.5", "7.5"] in [row[1:4] for row in rows]

    assert {fmt: french_in(text) for fmt, text in texts.items() if french_in(text)} == {}
    assert disposition.endswith('-summary.pdf"')


def test_a_refused_grade_says_its_numbers_as_english_writes_them(owner_client, graded):
    grade = graded.copies.order_by("pk").first().grades.get(question__order=0)
    url = reverse("grade_update", args=[grade.pk])

    refused = owner_client.post(url, {"points": "1.25"}, headers={"Accept": "application/json"})

    assert refused.json()["error"] == "The grade must be a multiple of 0.5."


def test_a_reason_written_while_the_teacher_read_french_is_read_in_english_later(
    owner_client, teacher, grade_exam, llm_server
):
    # Graded while the teacher reads French; one copy's answers are never usable.
    teacher.language = "fr"
    teacher.save(update_fields=["language"])
    exam = exam_with_bareme(owner=teacher, questions=2, language="en", title="Geometry test")
    failing = copy_with_pages(exam, pages=1, label="Chloé", text="copie de Chloé")
    llm_server.script("I cannot grade this copy.", match="copie de Chloé", times=10)
    grade_exam(exam, {"Léa": [1, 2]})
    failing.refresh_from_db()
    assert failing.status == Copy.Status.FAILED
    owner_client.get(reverse("exam_detail", args=[exam.pk]))  # the start's message, read in French
    teacher.language = "en"
    teacher.save(update_fields=["language"])

    copy_page = visible_text(owner_client.get(reverse("copy_detail", args=[failing.pk])).content.decode())
    grid = visible_text(owner_client.get(reverse("exam_review", args=[exam.pk])).content.decode())
    progress = visible_text(owner_client.get(reverse("exam_progress", args=[exam.pk])).content.decode())

    unusable = (
        "Unusable answer from model openai/gpt-4o, even after a repair: The model's answer contains no JSON object."
    )
    assert unusable in copy_page and unusable in progress and f"Grading incomplete: {unusable}" in grid
    assert (french_in(copy_page), french_in(grid), french_in(progress)) == ([], [], [])
    # The JSON export's record of each call says why an answer was unusable, in English too.
    body, _disposition = download(owner_client, reverse("exam_export", args=[exam.pk, "json"]))
    [failed] = [c for c in json.loads(body)["copies"] if c["student"] == "Chloé"]
    assert {answer["error"] for answer in failed["model_answers"]} == {"The model's answer contains no JSON object."}
    teacher.language = "fr"
    teacher.save(update_fields=["language"])
    copy_page = visible_text(owner_client.get(reverse("copy_detail", args=[failing.pk])).content.decode())
    assert "Réponse inutilisable du modèle openai/gpt-4o, même après une réparation : La réponse du modèle" in copy_page
