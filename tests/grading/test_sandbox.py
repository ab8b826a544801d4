"""The PDF sandbox itself: its limits, its clean-up, and its distrust of the child's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.core.files.base import ContentFile
from django.utils import translation

from core.i18n import text_dump, text_load
from grading import selectors
from grading.engine import render, sandbox
from grading.engine.render import MAX_SIDE_PX, OverlayItem, pdf_overlays, pdf_pages
from grading.engine.sandbox import PdfRefused
from grading.models import Copy, SourceFile
from grading.tasks import copy_pages_render_task
from tests.factories import CopyFactory, exam_with_bareme
from tests.support.hostile_pdfs import flat_tree, many_images, pdfium_pdf
from tests.support.pdfs import text_pdf

pytestmark = pytest.mark.usefixtures("french")


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "f.pdf"
    path.write_bytes(data)
    return path


def _children() -> set[int]:
    pids = set()
    for task in Path("/proc/self/task").iterdir():
        pids |= {int(pid) for pid in (task / "children").read_text().split()}
    return pids


def test_a_page_over_its_cpu_time_is_stopped_with_the_page_named(tmp_path, settings):
    settings.PDF_SANDBOX_PAGE_CPU_S = 1
    with pytest.raises(PdfRefused) as refused:
        list(pdf_pages(_file(tmp_path, many_images())))
    assert refused.value.code == "time"
    assert refused.value.message.startswith(
        "Le PDF est trop lourd à traiter : sa page 1 demande plus de 1 s de calcul."
    )


def test_a_file_over_its_total_cpu_time_is_stopped_as_a_whole(tmp_path, settings):
    settings.PDF_SANDBOX_PAGE_CPU_S = 60
    settings.PDF_SANDBOX_FILE_CPU_S = 2
    with pytest.raises(PdfRefused) as refused:
        list(pdf_pages(_file(tmp_path, many_images())))
    assert refused.value.message.startswith(
        "Le PDF est trop lourd à traiter : il demande plus de 2 s de calcul au total."
    )


def test_a_child_that_stops_answering_is_killed_at_the_wall_clock_deadline(tmp_path, settings, monkeypatch):
    script = tmp_path / "silent.py"
    script.write_text("import time\ntime.sleep(600)\n")
    monkeypatch.setattr(sandbox, "CHILD", script)
    settings.PDF_SANDBOX_WALL_S = 1
    with pytest.raises(PdfRefused) as refused:
        list(pdf_pages(_file(tmp_path, text_pdf(["x"]))))
    assert refused.value.message.startswith("Le PDF est trop lourd à traiter : sa structure demande plus de 1 s")
    assert _children() == set()


@pytest.mark.parametrize(
    "answer",
    [
        'sys.stdout.buffer.write(struct.pack(">I", 2**31) + b"{}")',  # a header too long to be honest
        'sys.stdout.buffer.write(struct.pack(">I", 2) + b"[]")',  # not a header
        'h = json.dumps({"page": 1, "width": 990, "height": 1400, "text": "", "size": 3}).encode()\n'
        'sys.stdout.buffer.write(struct.pack(">I", len(h)) + h + b"GIF")',  # not a JPEG
        'h = json.dumps({"page": 7, "width": 990, "height": 1400, "text": "", "size": 3}).encode()\n'
        'sys.stdout.buffer.write(struct.pack(">I", len(h)) + h + b"\\xff\\xd8\\xff")',  # a page not asked for
        'h = json.dumps({"page": 1, "width": 99999, "height": 1, "text": "", "size": 3}).encode()\n'
        'sys.stdout.buffer.write(struct.pack(">I", len(h)) + h + b"\\xff\\xd8\\xff")',  # a bitmap over the cap
    ],
    ids=["huge-header", "not-a-dict", "not-a-jpeg", "wrong-page", "too-wide"],
)
def test_answers_the_child_should_never_give_are_refused(tmp_path, settings, monkeypatch, answer):
    script = tmp_path / "liar.py"
    script.write_text(f"import json, struct, sys\nsys.stdin.readline()\n{answer}\nsys.stdout.flush()\n")
    monkeypatch.setattr(sandbox, "CHILD", script)
    with pytest.raises(PdfRefused) as refused:
        list(pdf_pages(_file(tmp_path, text_pdf(["x"]))))
    assert refused.value.message == "Le PDF est illisible ou endommagé."


@pytest.mark.parametrize("pages", [1, 2, 300])
def test_pages_beyond_the_end_are_refused_with_the_files_count_in_either_language(tmp_path, pages):
    # No noun agrees with the count (« (1 pages) » was the wording): both languages read alike at 1.
    path = _file(tmp_path, text_pdf([f"page {n}" for n in range(pages)]))
    with pytest.raises(PdfRefused) as refused:
        list(pdf_pages(path, first=pages + 1, last=pages + 2))
    stored = text_dump(refused.value.message, limit=2000)
    last = pages  # a `last` beyond the end reads "up to the end"
    assert refused.value.message == f"Pages {pages + 1} à {last} absentes du PDF, qui en a {pages}."
    with translation.override("en"):
        assert text_load(stored) == f"Pages {pages + 1} to {last} are missing from the PDF, which ends at page {pages}."


def test_the_child_runs_without_this_process_environment(tmp_path, monkeypatch):
    script = tmp_path / "env.py"
    script.write_text(
        "import json, os, struct, sys\nsys.stdin.readline()\n"
        'h = json.dumps({"end": True, "pages": len(os.environ), "size": 0, "secret": os.environ.get("SECRET_KEY")})\n'
        'sys.stdout.buffer.write(struct.pack(">I", len(h)) + h.encode())\n'
    )
    monkeypatch.setattr(sandbox, "CHILD", script)
    monkeypatch.setenv("SECRET_KEY", "do-not-leak")
    [(header, _payload)] = list(sandbox.sandbox_run("count", path="/nonexistent"))
    assert header["secret"] is None and header["pages"] <= 2


def test_stopping_early_kills_the_child(tmp_path):
    pages = pdf_pages(_file(tmp_path, text_pdf(["un", "deux", "trois"])))
    assert next(pages).index == 1
    assert len(_children()) == 1
    pages.close()
    assert _children() == set()


@pytest.mark.parametrize(("long_side", "expected"), [(1400, 1400), (900, 900), (10**6, MAX_SIDE_PX)])
def test_the_bitmap_is_capped_whatever_the_page_or_the_caller_asks(tmp_path, long_side, expected):
    sizes = [(595, 842), (842, 595), (14400, 14400), (14400, 3), (3, 14400), (1, 1), (595.3, 841.9)]
    pages = list(pdf_pages(_file(tmp_path, pdfium_pdf(sizes)), long_side=long_side))
    assert [max(page.width, page.height) for page in pages] == [expected] * len(sizes)
    assert min(min(page.width, page.height) for page in pages) >= 1
    assert (pages[3].width, pages[3].height) == (expected, 1)


@pytest.mark.django_db
def test_a_stored_file_with_an_unreadable_page_fails_its_copy_with_no_page_left(teacher):
    # A file stored before validation loaded every page: page 1 renders, page 2 does not.
    exam = exam_with_bareme(owner=teacher)
    data = flat_tree(1, count=2)
    source = SourceFile(exam=exam, original_name="ancien.pdf", size_bytes=len(data))
    source.file.save("ancien.pdf", ContentFile(data), save=False)
    source.save()
    copy = CopyFactory(exam=exam, source=source, first_page=1, last_page=2, status="queued")

    assert copy_pages_render_task.apply(args=[copy.pk]).get() == 0

    copy.refresh_from_db()
    assert copy.status == Copy.Status.FAILED
    assert copy.failure_text.startswith("La page 2 du PDF ne peut pas être lue (elle est endommagée).")
    assert not copy.pages.exists()
    assert selectors.gradable_copies(exam).count() == 0


def _overlay_items(ranges: list[tuple[int, int]]) -> list[OverlayItem]:
    """One item per range: a summary page, then one note page per page of the range."""
    return [
        OverlayItem(
            first=first,
            last=last,
            overlay=text_pdf([f"résumé {first}"] + [f"note {n}" for n in range(first, last + 1)]),
            prefix=1,
        )
        for first, last in ranges
    ]


def test_overlays_read_the_file_once_and_an_item_refused_leaves_the_others(tmp_path, monkeypatch):
    path = _file(tmp_path, text_pdf(["page 1", "page 2", "page 3", "page 4"]))
    started = []
    run = sandbox.sandbox_run
    monkeypatch.setattr(render, "sandbox_run", lambda op, **request: started.append(op) or run(op, **request))

    first, refused, last = list(pdf_overlays(path, _overlay_items([(1, 2), (9, 10), (3, 4)])))

    assert started == ["overlays"]
    assert isinstance(refused, PdfRefused) and refused.code == "range"
    assert refused.message == "Pages 9 à 4 absentes du PDF, qui en a 4."
    for pdf, pages in ((first, (1, 2)), (last, (3, 4))):
        texts = [page.get_textpage().get_text_bounded() for page in pdfium.PdfDocument(pdf)]
        assert texts[0] == f"résumé {pages[0]}"
        # Each page of its range, under the note drawn over it: the range's own, in order.
        assert texts[1:] == [f"page {n} note {n}" for n in pages]
    assert _children() == set()


@pytest.mark.parametrize(
    "frames",
    [
        [{"item": 1, "bytes": 0}],  # an item before the one asked for next
        [{"item": 0, "chunk": 0, "payload": "%PDF-1.4"}, {"item": 0, "bytes": 99}],  # cut short
        [{"item": 0, "chunk": 0, "payload": "GIF89a"}, {"item": 0, "bytes": 6}],  # not a PDF
        [{"item": 0, "chunk": 1, "payload": "%PDF-1.4"}],  # a chunk out of order
        [{"item": 0, "refused": "range"}, {"item": 1, "refused": "range"}],  # more than asked for
        [{"end": True, "items": 0}],  # an end before the item
    ],
    ids=["item-ahead", "cut-short", "not-a-pdf", "chunk-ahead", "one-too-many", "end-too-soon"],
)
def test_overlay_answers_the_child_should_never_give_are_refused(tmp_path, monkeypatch, frames):
    lines = ["import json, struct, sys", "sys.stdin.readline()"]
    for frame in frames:
        payload = frame.pop("payload", "").encode()
        header = json.dumps({**frame, "size": len(payload)})
        lines.append(f"h = {header!r}.encode()")
        lines.append(f"sys.stdout.buffer.write(struct.pack('>I', len(h)) + h + {payload!r})")
    lines.append("sys.stdout.flush()")
    script = tmp_path / "liar.py"
    script.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(sandbox, "CHILD", script)
    with pytest.raises(PdfRefused) as refused:
        list(pdf_overlays(_file(tmp_path, text_pdf(["x"])), _overlay_items([(1, 1)])))
    assert refused.value.message == "Le PDF est illisible ou endommagé."
