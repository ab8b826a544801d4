"""Rendering copies' pages with pypdfium2, and the detection-model proposals."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from grading import jobs
from grading.engine import EngineError, bareme_extract, split_propose
from grading.engine.render import LONG_SIDE, pdf_pages
from grading.models import Copy, SourceFile
from tests.factories import CopyFactory, exam_with_bareme
from tests.support.pdfs import scanned_pdf, text_pdf
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def _source(exam, data: bytes, name: str = "copies.pdf") -> SourceFile:
    source = SourceFile(exam=exam, original_name=name, size_bytes=len(data))
    source.file.save(name, ContentFile(data), save=False)
    source.save()
    return source


def test_pages_render_to_jpeg_with_their_text_layer(tmp_path):
    path = tmp_path / "copy.pdf"
    path.write_bytes(text_pdf(["Exercice 1 : x = 4", "Exercice 2 : aire = 12 cm2", "Fin"]))

    pages = list(pdf_pages(path, first=2, last=3))

    assert [page.index for page in pages] == [2, 3]
    assert pages[0].text == "Exercice 2 : aire = 12 cm2"
    assert max(pages[0].width, pages[0].height) == LONG_SIDE
    assert pages[0].jpeg[:3] == b"\xff\xd8\xff"


def test_a_copys_page_range_becomes_stored_pages(teacher):
    exam = exam_with_bareme(owner=teacher)
    source = _source(exam, scanned_pdf(4, size=(620, 877)))
    copy = CopyFactory(exam=exam, source=source, first_page=2, last_page=3, status="queued")

    assert jobs.copy_pages_render(copy=copy) == 2
    assert jobs.copy_pages_render(copy=copy) == 2  # rendering again replaces, never duplicates

    pages = list(copy.pages.all())
    assert [page.index for page in pages] == [1, 2]
    with pages[0].image.open("rb") as image:
        assert image.read(3) == b"\xff\xd8\xff"


def test_an_unreadable_pdf_fails_the_copy_with_a_reason(teacher):
    from grading.tasks import copy_pages_render_task

    exam = exam_with_bareme(owner=teacher)
    source = _source(exam, b"%PDF-1.4\nthis is not a pdf at all")
    copy = CopyFactory(exam=exam, source=source, status="queued")

    assert copy_pages_render_task.apply(args=[copy.pk]).get() == 0

    copy.refresh_from_db()
    assert copy.status == Copy.Status.FAILED and "illisible" in copy.failure_reason
    assert not copy.pages.exists()


def test_the_barème_is_proposed_from_the_subject_by_the_detection_model(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, questions=0)
    exam.subject_file.save("sujet.pdf", ContentFile(text_pdf(["Exercice 1 (4 points)", "Exercice 2 (6 points)"])))
    llm_server.script(
        json.dumps({"questions": [{"label": "Exercice 1", "max_points": 4}, {"label": "Exercice 2", "max_points": 6}]})
    )

    proposal = bareme_extract(exam=exam)

    assert [(q.label, int(q.max_points)) for q in proposal.questions] == [("Exercice 1", 4), ("Exercice 2", 6)]
    assert "Exercice 2 (6 points)" in llm_server.requests[0].text
    assert llm_server.requests[0].model == "gpt-4o-mini"
    row = UsageRecord.objects.get(exam=exam)
    assert row.phase == "detection" and row.model == "openai/gpt-4o-mini"


def test_a_class_pdf_split_is_proposed_and_checked_against_its_pages(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher)
    source = _source(exam, text_pdf(["Alice", "suite", "Bob", "suite"]))
    llm_server.script(
        json.dumps(
            {
                "copies": [
                    {"student_label": "Alice", "first_page": 1, "last_page": 2},
                    {"student_label": "Bob", "first_page": 3, "last_page": 4},
                ]
            }
        )
    )
    proposal = split_propose(source=source)
    assert [(c.student_label, c.first_page, c.last_page) for c in proposal.copies] == [("Alice", 1, 2), ("Bob", 3, 4)]

    llm_server.script(json.dumps({"copies": [{"student_label": "Alice", "first_page": 1, "last_page": 9}]}))
    with pytest.raises(EngineError, match="incohérent"):
        split_propose(source=source)
