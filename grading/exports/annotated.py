"""Annotated PDFs, to hand back to the students: the copy's pages exactly as uploaded (same
size, orientation and content), with each question's points and comment printed next to the
answer, after a summary page (name, total, /20, points per question, the appréciation).

How: reportlab draws a vector overlay (one page per copy page, in the page's own coordinates,
rotation included) and pypdf merges it onto the original pages in the PDF sandbox
(grading.engine.render.pdf_overlays: the copies of a class scanned as one PDF in runs, one
child reading the file once for a run, grading.exports.sources). pypdf keeps each page's content streams byte for byte
(wrapped in q … Q) with its boxes and rotation, so a scan stays the scan it was, at its
resolution; pypdfium2 remains the renderer (page images for the models, thumbnails).

Where a comment goes: the page and vertical span the engine read the answer at (Grade.page,
span_top, span_bottom), in the right margin at the top of the span; without a span, in the
margin of that page where there is room; without a page (or no room), on the summary page.
What is printed is what the teacher sees: the final points and the feedback, never the
engine's first draft. Once the students' files are purged (services.retention), FilesPurged.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

from django.db.models import prefetch_related_objects
from django.db.models.fields.files import FieldFile
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from ..engine.render import OverlayItem
from ..engine.sandbox import PdfRefused
from ..errors import FilesPurged
from ..models import Copy, Exam, feedback_shown
from ..selectors.review import Review, ReviewRow, review_get
from .overlay import A4, Note, Summary, overlay_pdf
from .sources import SourcePaths, copy_source, overlays_merged, source_batches
from .tables import fr_number, on_twenty

logger = logging.getLogger(__name__)

COMMENT_CHARS = 220


def _number(value: Decimal, language: str) -> str:
    text = fr_number(value)
    return text.replace(",", ".") if language == "en" else text


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def copy_appreciation(copy: Copy) -> str:
    """The copy's general appréciation as the teacher left it (Copy.appreciation: the model's
    draft once accepted or edited, never appreciation_ai by itself): the one place the
    annotated PDF reads it from."""
    return copy.appreciation.strip()


def copy_notes(copy: Copy, review: Review, row: ReviewRow, *, comment_chars: int | None = COMMENT_CHARS) -> list[Note]:
    language = copy.exam.language
    notes = []
    for number, (question, grade) in enumerate(zip(review.questions, row.cells, strict=True), start=1):
        if grade is None:
            notes.append(Note(number=number, label=question.label, mark="—", comment=""))
            continue
        notes.append(
            Note(
                number=number,
                label=question.label,
                mark=f"{_number(grade.points, language)} / {_number(question.max_points, language)}",
                comment=_short(feedback_shown(grade), comment_chars)
                if comment_chars
                else feedback_shown(grade).strip(),
                page=grade.page,
                top=grade.span_top,
                bottom=grade.span_bottom,
            )
        )
    return notes


def copy_summary(copy: Copy, review: Review, row: ReviewRow, *, link: str = "") -> Summary:
    language = copy.exam.language
    total, maximum = row.total, review.bareme_total
    twenty = ""
    if total is None:
        total_text = _("Total : — / %(max)s") % {"max": _number(maximum, language)}
    else:
        total_text = _("Total : %(total)s / %(max)s") % {
            "total": _number(total, language),
            "max": _number(maximum, language),
        }
        on_20 = on_twenty(total, maximum)
        if on_20 is not None and maximum != 20:
            twenty = _("Note : %(twenty)s / 20") % {"twenty": _number(on_20, language)}
    return Summary(
        title=copy.exam.title,
        student=copy.student_label,
        total=total_text,
        twenty=twenty,
        appreciation=copy_appreciation(copy),
        link=link,
    )


# --- The copy's pages ---------------------------------------------------------------------


def _with_images(copy: Copy, summary: Summary, notes: list[Note]) -> bytes:
    """Without the source PDF: the rendered page images, each on a page of their proportions
    (long side as A4's), under the same overlay. Without images either: the summary alone."""
    images = []
    for page in copy.pages.all():
        with page.image.open("rb") as handle:
            images.append(Image.open(io.BytesIO(handle.read())).convert("RGB"))
    shown = []
    for image in images:
        scale = A4[1] / max(image.width, image.height, 1)
        shown.append((max(image.width * scale, 1.0), max(image.height * scale, 1.0)))
    overlay, prefix = overlay_pdf(summary, notes, shown, None)
    if not images:
        return overlay
    base = io.BytesIO()
    canvas = Canvas(base, pageCompression=1)
    for image, size in zip(images, shown, strict=True):
        canvas.setPageSize(size)
        canvas.drawImage(ImageReader(image), 0, 0, width=size[0], height=size[1])
        canvas.showPage()
    canvas.save()
    drawn = PdfReader(io.BytesIO(overlay))
    writer = PdfWriter()
    for index in range(prefix):
        writer.add_page(drawn.pages[index])
    for index, scan in enumerate(PdfReader(io.BytesIO(base.getvalue())).pages):
        added = writer.add_page(scan)
        added.merge_page(drawn.pages[prefix + index])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@dataclass(frozen=True)
class _Drawn:
    """A copy's texts, as its summary page and its notes print them."""

    copy: Copy
    summary: Summary
    notes: list[Note]

    def from_images(self) -> bytes:
        with translation.override(self.copy.exam.language):
            return _with_images(self.copy, self.summary, self.notes)


def _drawn(row: ReviewRow, review: Review, *, link: str) -> _Drawn:
    copy = row.copy
    with translation.override(copy.exam.language):
        return _Drawn(
            copy=copy, summary=copy_summary(copy, review, row, link=link), notes=copy_notes(copy, review, row)
        )


def _overlay_item(drawn: _Drawn, sources: SourcePaths, path: Path) -> OverlayItem | None:
    """The copy's notes drawn over its pages of the source, or None when the sandbox now refuses
    them (validated at upload, refused now: a lowered limit), the rendered images then do."""
    copy = drawn.copy
    try:
        geometry = sources.geometry(path, first=copy.first_page, last=copy.last_page)
    except PdfRefused as refused:
        logger.warning("annotated PDF of copy %s from its images: %s", copy.pk, refused.message)
        return None
    with translation.override(copy.exam.language):
        overlay, prefix = overlay_pdf(drawn.summary, drawn.notes, [page.shown_size for page in geometry], geometry)
    return OverlayItem(first=geometry[0].index, last=geometry[-1].index, overlay=overlay, prefix=prefix)


def _run_annotated(drawn: list[_Drawn], source: FieldFile | None, sources: SourcePaths) -> Iterator[tuple[Copy, bytes]]:
    """One run of source_batches: its copies merged by one sandbox child (overlays_merged),
    each from its images when the sandbox refuses its pages or it has no source."""
    if source is None:
        for copy_drawn in drawn:
            yield copy_drawn.copy, copy_drawn.from_images()
        return
    with sources.path(source) as path:
        items = [_overlay_item(copy_drawn, sources, path) for copy_drawn in drawn]
        merged = overlays_merged(path, [item for item in items if item is not None])
        for copy_drawn, item in zip(drawn, items, strict=True):
            result = next(merged) if item is not None else None
            if isinstance(result, bytes):
                yield copy_drawn.copy, result
                continue
            if result is not None:
                logger.warning("annotated PDF of copy %s from its images: %s", copy_drawn.copy.pk, result.message)
            yield copy_drawn.copy, copy_drawn.from_images()


def _annotated(
    rows: list[ReviewRow], *, review: Review, sources: SourcePaths, links: dict[int, str]
) -> Iterator[tuple[Copy, bytes]]:
    """The rows' annotated PDFs, in order, a run of copies of one source PDF at a time."""
    for batch in source_batches(rows):
        drawn = [_drawn(row, review, link=links.get(row.copy.pk, "")) for row in batch]
        try:
            yield from _run_annotated(drawn, copy_source(batch[0].copy), sources)
        except FileNotFoundError:
            # Deleted by a purge that has not cleared its references yet (services.retention).
            raise FilesPurged(review.exam.files_purged_at) from None


def copy_annotated_pdf(*, copy: Copy, review: Review | None = None, link: str = "") -> bytes:
    """The copy to hand back: summary page, then its pages as uploaded with the notes drawn over.
    `link`: the student's private link (known only when it is issued, or opened), printed on
    the summary page as a QR code."""
    if copy.exam.files_purged_at is not None:
        raise FilesPurged(copy.exam.files_purged_at)
    review = review or review_get(exam=copy.exam)
    row = next(r for r in review.rows if r.copy.pk == copy.pk)
    sources = SourcePaths()
    try:
        ((_copy, pdf),) = _annotated([row], review=review, sources=sources, links={copy.pk: link})
    finally:
        sources.close()
    return pdf


def copy_annotated_filename(copy: Copy) -> str:
    return f"{slugify(copy.student_label) or slugify(_('copie'))}-{copy.pk}.pdf"


def exam_annotated_zip_write(
    *,
    exam: Exam,
    handle: IO[bytes],
    progress: Callable[[int, int], None] | None = None,
    links: dict[int, str] | None = None,
) -> int:
    """Writes the zip of the class's annotated PDFs to `handle` (a file), one copy at a time:
    the archive is never held in memory, only the copy being drawn. Reads the same whatever
    the class's size: the grid's three queries, then the copies' sources and pages in two.
    `progress(done, total)` after each copy; `links`: copy id → its private link, printed as a
    QR code on its summary page. Returns the number of PDFs written."""
    if exam.files_purged_at is not None:
        raise FilesPurged(exam.files_purged_at)
    review = review_get(exam=exam)
    prefetch_related_objects([row.copy for row in review.rows], "source", "pages")
    sources = SourcePaths()
    total = len(review.rows)
    # Scans are JPEG already: the fastest deflate level saves what little there is to save.
    with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        try:
            annotated = _annotated(review.rows, review=review, sources=sources, links=links or {})
            for done, (copy, pdf) in enumerate(annotated, start=1):
                archive.writestr(copy_annotated_filename(copy), pdf)
                del pdf
                if progress is not None:
                    progress(done, total)
        finally:
            sources.close()
    return total
