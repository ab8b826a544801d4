"""The copies' source PDFs while annotated PDFs are drawn over them (grading.exports.annotated):
a local copy of each and its pages' geometry read once, and the copies of one class scanned as
one PDF merged in runs by one sandbox child each, which reads the file once for the run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from pathlib import Path

from django.db.models.fields.files import FieldFile

from ..engine.render import OverlayItem, PageGeometry, local_copy, pdf_geometry, pdf_overlays
from ..engine.sandbox import PdfRefused
from ..models import Copy
from ..selectors.review import ReviewRow

logger = logging.getLogger(__name__)


class SourcePaths:
    """Local copies of the copies' source PDFs while a zip is written: a class scanned as one
    PDF is copied out of storage once for its 30 (or 300) copies, not once per copy, and its
    pages' geometry read once (one sandbox for the whole file, not one per copy: it parses
    the whole PDF each time). Only the last source is kept (the copies of one PDF come
    together), so the disk holds one at a time. `whole_file=False` (one copy's download):
    the geometry of the copy's pages alone, each time it is asked for."""

    def __init__(self, *, whole_file: bool = True) -> None:
        self._name = ""
        self._path: Path | None = None
        self._geometry: list[PageGeometry] | None = None
        self._whole_file = whole_file
        self._stack = ExitStack()

    def path(self, field: FieldFile):
        name = field.name or ""
        if name != self._name or self._path is None:
            self._stack.close()
            self._path = self._stack.enter_context(local_copy(name, storage=field.storage))
            self._name = name
            self._geometry = None
        return nullcontext(self._path)

    def geometry(self, path: Path, *, first: int, last: int | None) -> list[PageGeometry]:
        """Pages `first`..`last` of the current source (`path`, from path())."""
        if not self._whole_file:
            return pdf_geometry(path, first=first, last=last)
        if self._geometry is None:
            self._geometry = pdf_geometry(path)
        pages = [page for page in self._geometry if page.index >= first and (last is None or page.index <= last)]
        if not pages:
            raise PdfRefused.unreadable(f"pages {first}-{last} not in the source")
        return pages

    def close(self) -> None:
        self._stack.close()


# Pages of one source merged by one sandbox child (copies of a class scanned as one PDF): the
# child reads the file once for them; bounded so that what it keeps of the pages it read (pypdf
# caches them) stays small and a child that dies costs little to do again.
OVERLAY_BATCH_PAGES = 120


def copy_source(copy: Copy) -> FieldFile | None:
    """The copy's source PDF, when it has one still stored."""
    return copy.source.file if copy.source is not None and copy.source.file else None


def source_batches(rows: list[ReviewRow]) -> Iterator[list[ReviewRow]]:
    """The rows in order, in runs of copies of one source PDF of up to OVERLAY_BATCH_PAGES pages
    (a copy without a source goes alone)."""
    batch: list[ReviewRow] = []
    name, pages = "", 0
    for row in rows:
        source = copy_source(row.copy)
        size = (row.copy.last_page or row.copy.first_page) - row.copy.first_page + 1 if source else 0
        if batch and (source is None or not name or source.name != name or pages + size > OVERLAY_BATCH_PAGES):
            yield batch
            batch, pages = [], 0
        batch.append(row)
        name, pages = (source.name or "") if source else "", pages + size
    if batch:
        yield batch


def overlays_merged(path: Path, items: list[OverlayItem]) -> Iterator[bytes | PdfRefused]:
    """pdf_overlays, each item once; when its child stops short (a limit, a crash), the items it
    left are merged each in a child of its own."""
    done = 0
    try:
        for result in pdf_overlays(path, items):
            done += 1
            yield result
    except PdfRefused as refused:
        if len(items) == 1:
            yield refused
            return
        logger.warning("annotated PDFs: %s of %s merged, the rest one by one: %s", done, len(items), refused.message)
        for item in items[done:]:
            try:
                (alone,) = pdf_overlays(path, [item])
            except PdfRefused as refused_alone:
                alone = refused_alone
            yield alone
