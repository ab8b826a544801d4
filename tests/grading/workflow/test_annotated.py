"""The annotated PDF a teacher hands back: the copy's pages as uploaded (sizes, rotation and
content kept), each question's points and comment drawn on the page the grader named, next to
the answer, after a summary page. Copies are uploaded as PDFs, rendered, and graded by the
engine against the scripted server; the PDF is read back with pypdfium2 (text and positions)
and pypdf (boxes, rotation, content streams)."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pypdf import PdfReader, PdfWriter
from pypdf.generic import RectangleObject

from grading import services, tasks
from grading.engine.prompts import TASK_GRADE
from grading.engine.schema import QuestionGrade
from grading.models import Copy, Exam
from tests.grading.helpers import grades_json
from tests.support.pdfs import text_pdf

from .classes import exam_for_class

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french", "eager_tasks")]

QUESTIONS = (("Résoudre l'équation", "4"), ("Tracer la courbe", "6"), ("Conclure", "5"))


def _upload(client, exam: Exam, name: str, pdf: bytes) -> Copy:
    response = client.post(
        reverse("copies_upload", args=[exam.pk]),
        {"files": [SimpleUploadedFile(name, pdf, content_type="application/pdf")]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.content
    # The render task, as a worker runs it: the name on page 1 is read next (eager_tasks).
    tasks.copy_pages_render_task.apply(args=[response.json()["created"][0]["id"]])
    return Copy.objects.get(pk=response.json()["created"][0]["id"])


def _graded(exam: Exam, teacher, llm_server, answers: dict[str, str]) -> None:
    """`answers`: a marker on the copy → the scripted grader's JSON for it."""
    for marker, answer in answers.items():
        llm_server.script(
            answer, match=lambda request, m=marker: m in request["text"] and TASK_GRADE in request["text"]
        )
    job = services.job_start(exam=exam, user=teacher)
    for copy in exam.copies.all():
        copy.refresh_from_db()
        services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")
    assert set(exam.copies.values_list("status", flat=True)) == {"done"}


def _annotated(client, copy: Copy) -> bytes:
    response = client.get(reverse("copy_annotated", args=[copy.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return response.content


def _texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    return [document[i].get_textpage().get_text_bounded() for i in range(len(document))]


def _shown_top(pdf: bytes, index: int, needle: str) -> float:
    """Where `needle` starts on page `index`, from the top of the page as shown (0 … 1)."""
    document = pdfium.PdfDocument(pdf)
    page = document[index]
    textpage = page.get_textpage()
    found = textpage.search(needle).get_next()
    assert found, (needle, textpage.get_text_bounded())
    _left, _bottom, _right, top = textpage.get_charbox(found[0])
    return 1 - top / page.get_size()[1]


def test_each_mark_is_printed_on_the_page_the_grader_named(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, None, questions=QUESTIONS)
    pdf = text_pdf(["Nom : Léa Abadie   Classe : 3e B   COPIE-A", "COPIE-A suite page 2", "COPIE-A suite page 3"])
    copy = _upload(owner_client, exam, "lea.pdf", pdf)
    places = [
        {"page": 1, "top": 0.40, "bottom": 0.60},
        {"page": 3, "top": 0.70, "bottom": 0.90},
        {"page": 2, "top": 0.15, "bottom": 0.30},
    ]
    feedbacks = ["Méthode juste, calcul à revoir.", "Courbe soignée.", "Conclusion trop brève."]
    _graded(exam, teacher, llm_server, {"COPIE-A": grades_json([2.5, 6, 1], places=places, feedbacks=feedbacks)})
    # The teacher's corrections are what is printed, never the grader's first points or text.
    grade = copy.grades.get(question__order=0)
    owner_client.post(reverse("grade_update", args=[grade.pk]), {"points": "3"})
    # The grader's comment beside points it did not give is printed once the teacher keeps it
    # (tests/grading/workflow/test_feedback_stale.py: left out until then).
    owner_client.post(reverse("grade_feedback", args=[grade.pk]), {"keep": "1"})
    third = copy.grades.get(question__order=2)
    owner_client.post(reverse("grade_feedback", args=[third.pk]), {"feedback": "Conclure en une phrase."})
    appreciation = "Travail sérieux ; soigne la rédaction des conclusions."
    owner_client.post(reverse("copy_appreciation", args=[copy.pk]), {"appreciation": appreciation})

    out = _annotated(owner_client, copy)

    original, annotated = PdfReader(io.BytesIO(pdf)), PdfReader(io.BytesIO(out))
    assert len(annotated.pages) == 1 + 3
    for page, source in zip(annotated.pages[1:], original.pages, strict=True):
        assert [float(v) for v in page.mediabox] == [float(v) for v in source.mediabox] == [0, 0, 595, 842]
        # The scan's own drawing is there byte for byte (wrapped in q … Q), under the notes.
        assert source.get_contents().get_data() in page.get_contents().get_data()
    texts = _texts(out)
    summary, pages = texts[0], texts[1:]
    assert "Léa Abadie" in summary and "Contrôle de géométrie" in summary
    assert "Total : 10 / 15" in summary and "Note : 13,33 / 20" in summary
    assert "3 / 4" in summary and "6 / 6" in summary and "1 / 5" in summary
    assert "Q1 : 3 / 4" in pages[0] and "Méthode juste" in pages[0]
    assert "Appréciation générale" in summary and appreciation in summary
    assert "Q3 : 1 / 5" in pages[1] and "Conclure en une phrase." in pages[1]
    assert "Conclusion trop brève." not in "".join(texts)
    assert "Q2 : 6 / 6" in pages[2] and "Courbe soignée." in pages[2]
    assert "2,5 / 4" not in "".join(texts)
    assert "Q2" not in pages[0] + pages[1] and "Q1" not in pages[1] + pages[2]
    # Next to the answer: the note starts where the answer's span starts.
    assert 0.40 <= _shown_top(out, 1, "Q1 : 3 / 4") <= 0.45
    assert 0.70 <= _shown_top(out, 3, "Q2 : 6 / 6") <= 0.75
    # Legible printed: no text under 9 pt on the copy's pages.
    document = pdfium.PdfDocument(out)
    for index in range(1, 4):
        textpage = document[index].get_textpage()
        sizes = {
            round(pdfium.raw.FPDFText_GetFontSize(textpage.raw, i), 1)
            for i in range(textpage.count_chars())
            if not pdfium.raw.FPDFText_IsGenerated(textpage.raw, i) and textpage.get_text_range(i, 1).strip()
        }
        assert min(sizes) >= 9, sizes


def test_a_missing_placement_goes_to_the_margin_then_to_the_summary(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, None, questions=QUESTIONS)
    copy = _upload(
        owner_client, exam, "hugo.pdf", text_pdf(["Nom : Hugo Martin   Classe : 3e B   COPIE-H", "COPIE-H page 2"])
    )
    places = [
        {},  # no placement at all
        {"page": 7, "top": 0.2, "bottom": 0.4},  # a page the copy does not have
        {"page": 2, "top": "haut", "bottom": None},  # a page, no usable span
    ]
    feedbacks = ["Réponse absente du brouillon.", "Voir la correction.", "Bonne conclusion."]
    _graded(exam, teacher, llm_server, {"COPIE-H": grades_json([0, 3, 5], places=places, feedbacks=feedbacks)})
    grades = list(copy.grades.order_by("question__order"))
    assert [(g.page, g.span_top, g.span_bottom) for g in grades] == [(None, None, None)] * 2 + [(2, None, None)]

    texts = _texts(_annotated(owner_client, copy))

    assert len(texts) == 3
    assert "Réponse absente du brouillon." in texts[0] and "Voir la correction." in texts[0]
    assert "Bonne conclusion." not in texts[0]
    assert "Q3 : 5 / 5" in texts[2] and "Bonne conclusion." in texts[2]
    assert "Q1" not in texts[1] + texts[2] and "Q2" not in texts[1] + texts[2]


def _odd_pdf() -> bytes:
    """Page 1 A4 turned a quarter (/Rotate 90), page 2 A4 landscape with a crop box offset from
    the origin, page 3 a 20 × 20 pt sticker where no note fits."""
    reader = PdfReader(
        io.BytesIO(text_pdf(["Nom : Inès Zaïdi   Classe : 3e B   COPIE-Z", "COPIE-Z paysage", "COPIE-Z"]))
    )
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    writer.pages[0].rotation = 90
    writer.pages[1].mediabox = RectangleObject([0, 0, 842, 595])
    writer.pages[1].cropbox = RectangleObject([20, 30, 842, 595])
    writer.pages[2].mediabox = RectangleObject([0, 0, 20, 20])
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_rotated_landscape_and_tiny_pages_keep_their_geometry(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, None, questions=QUESTIONS)
    pdf = _odd_pdf()
    copy = _upload(owner_client, exam, "ines.pdf", pdf)
    places = [
        {"page": 1, "top": 0.5, "bottom": 0.7},
        {"page": 2, "top": 0.1, "bottom": 0.3},
        {"page": 3, "top": 0.1, "bottom": 0.9},
    ]
    _graded(exam, teacher, llm_server, {"COPIE-Z": grades_json([1, 2, 3], places=places)})

    out = _annotated(owner_client, copy)

    original, annotated = PdfReader(io.BytesIO(pdf)), PdfReader(io.BytesIO(out))
    assert len(annotated.pages) == 4
    for page, source in zip(annotated.pages[1:], original.pages, strict=True):
        assert page.rotation == source.rotation
        assert [float(v) for v in page.mediabox] == [float(v) for v in source.mediabox]
        assert [float(v) for v in page.cropbox] == [float(v) for v in source.cropbox]
    texts = _texts(out)
    assert "Q1 : 1 / 4" in texts[1]
    assert "Q2 : 2 / 6" in texts[2]
    assert "Q3" not in texts[3]  # no room on a sticker: its comment is on the summary
    assert "Conseil pour q3." in texts[0]
    # On the turned page the note reads upright: pdfium (which applies /Rotate) sees its first
    # characters left to right, halfway down the page as shown.
    document = pdfium.PdfDocument(out)
    turned = document[1]
    assert turned.get_size() == pytest.approx((842, 595), abs=0.5)
    textpage = turned.get_textpage()
    start = textpage.search("Q1 : 1 / 4").get_next()[0]
    first, second = textpage.get_charbox(start), textpage.get_charbox(start + 1)
    # pdfium gives boxes in the page's own space (595 × 842, unrotated): turned a quarter
    # clockwise, the shown right margin is its top edge and reading left to right goes up.
    assert second[1] > first[1]
    assert first[1] > 842 - 250
    # Halfway down as shown is halfway across in the page's own space.
    assert 0.5 <= first[0] / 595 <= 0.56
    # The landscape page's note is inside its crop box, near the top of the answer's span.
    landscape = document[2]
    box = landscape.get_textpage()
    at = box.search("Q2 : 2 / 6").get_next()[0]
    left, bottom, right, top = box.get_charbox(at)
    assert left >= 20 and right <= 842 and bottom >= 30 and top <= 595


def test_the_demo_grader_says_where_it_read_each_answer(owner_client, teacher, llm_server):
    exam = exam_for_class(owner_client, None, questions=QUESTIONS)
    copy = _upload(owner_client, exam, "demo.pdf", text_pdf(["Nom : Lucas Martin   Classe : 3e B   DEMO", "DEMO p2"]))
    _graded(exam, teacher, llm_server, {})  # unscripted: the scripted server's demo answer

    grades = list(copy.grades.order_by("question__order"))
    assert [g.page for g in grades] == [1, 1, 2]
    assert all(0 <= g.span_top <= g.span_bottom <= 1 for g in grades)
    texts = _texts(_annotated(owner_client, copy))
    assert "Q1" in texts[1] and "Q2" in texts[1] and "Q3" in texts[2]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"page": 2, "top": -0.3, "bottom": 1.8}, (2, 0.0, 1.0)),
        ({"page": 1, "top": 0.9, "bottom": 0.2}, (1, 0.2, 0.9)),
        ({"page": "3", "top": "0,25"}, (3, 0.25, 0.25)),
        ({"page": 0, "top": 0.1, "bottom": 0.2}, (None, None, None)),
        ({"page": 1.5, "top": 0.1, "bottom": 0.2}, (None, None, None)),
        ({"page": True, "top": 0.1}, (None, None, None)),
        ({"page": [1], "top": {}, "bottom": "x"}, (None, None, None)),
        ({"top": 0.1, "bottom": 0.2}, (None, None, None)),
    ],
)
def test_a_placement_is_clamped_or_dropped_never_refused(given, expected):
    grade = QuestionGrade.model_validate({"id": "q1", "points": 1, **given})
    assert (grade.page, grade.top, grade.bottom) == expected
    assert grade.placement_clamped(2)[0] == (expected[0] if expected[0] and expected[0] <= 2 else None)


def test_a_source_the_sandbox_now_refuses_falls_back_to_the_page_images(owner_client, teacher, llm_server, settings):
    exam = exam_for_class(owner_client, None, questions=QUESTIONS)
    copy = _upload(owner_client, exam, "chloe.pdf", text_pdf(["Nom : Chloé Dubois   Classe : 3e B   COPIE-C", "p2"]))
    places = [{"page": 1, "top": 0.2, "bottom": 0.3}, {"page": 2, "top": 0.5, "bottom": 0.6}, {}]
    _graded(exam, teacher, llm_server, {"COPIE-C": grades_json([1, 2, 3], places=places)})
    settings.PDF_SANDBOX_WALL_S = 0.001  # no child answers in time: the sandbox refuses the file

    out = _annotated(owner_client, copy)

    document = pdfium.PdfDocument(out)
    assert len(document) == 3
    assert document[1].get_size()[1] == pytest.approx(841.89, abs=0.01)
    texts = _texts(out)
    assert "Q1 : 1 / 4" in texts[1] and "Q2 : 2 / 6" in texts[2] and "Conseil pour q3." in texts[0]
