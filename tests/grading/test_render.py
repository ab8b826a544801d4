"""Rendering copies' pages with pypdfium2, and the detection-model proposals."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from grading import services
from grading.engine.render import LONG_SIDE, pdf_pages
from grading.models import Copy, Proposal, SourceFile
from grading.services.proposals import proposal_run
from tests.factories import CopyFactory, exam_with_bareme
from tests.support.pdfs import scanned_pdf, text_pdf
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def _source(exam, data: bytes, name: str = "copies.pdf", page_count: int = 0) -> SourceFile:
    source = SourceFile(exam=exam, original_name=name, size_bytes=len(data), page_count=page_count)
    source.file.save(name, ContentFile(data), save=False)
    source.save()
    return source


def _split_proposed(source: SourceFile) -> tuple[list[services.SplitRow], str]:
    """The split proposal run here as its task would (enqueued on commit, which never comes here)."""
    proposal = services.split_proposal_start(source=source)
    proposal_run(proposal_id=proposal.pk)
    proposal.refresh_from_db()
    return services.split_proposal_rows(proposal=proposal, page_count=source.page_count)


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

    assert services.copy_pages_render(copy=copy) == 2
    assert services.copy_pages_render(copy=copy) == 2  # rendering again replaces, never duplicates

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
    assert copy.status == Copy.Status.FAILED and "illisible" in copy.failure_text
    assert not copy.pages.exists()


def test_the_barème_is_proposed_from_the_subject_by_the_detection_model(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, questions=0)
    exam.subject_file.save("sujet.pdf", ContentFile(text_pdf(["Exercice 1 (4 points)", "Exercice 2 (6 points)"])))
    llm_server.script(
        json.dumps({"questions": [{"label": "Exercice 1", "max_points": 4}, {"label": "Exercice 2", "max_points": 6}]})
    )

    proposal = services.bareme_proposal_start(exam=exam)  # the stored subject, read again

    assert proposal_run(proposal_id=proposal.pk) == Proposal.Status.READY
    rows = Proposal.objects.get(pk=proposal.pk).bareme_rows()
    assert [(row["label"], row["max_points"]) for row in rows] == [("Exercice 1", 4), ("Exercice 2", 6)]
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
    rows, _notice = _split_proposed(source)
    assert [(r.student_label, r.first_page, r.last_page) for r in rows] == [("Alice", 1, 2), ("Bob", 3, 4)]
    assert services.split_proposal_start(source=source).status == Proposal.Status.READY  # reopened: not asked again
    assert len(llm_server.requests) == 1

    other = _source(exam, text_pdf(["Alice", "suite", "Bob", "suite"]), name="autre.pdf", page_count=4)
    llm_server.script(json.dumps({"copies": [{"student_label": "Alice", "first_page": 1, "last_page": 9}]}))
    rows, notice = _split_proposed(other)
    assert "incohérent" in notice and [(r.first_page, r.last_page) for r in rows] == [(1, 4)]
