"""The copies' source PDFs while annotated PDFs are drawn over them (grading.exports.annotated):
a local copy of each and its pages' geometry read once, and the copies of one class scanned as
one PDF merged in runs by one sandbox child each, which reads the file once for the run.

A source's geometry is kept in the cache once read (`source_geometry`): the copies of a class
scanned as one PDF are downloaded one by one (the teacher's, each student's link), and each
download read its pages' geometry in a sandbox child of its own, which parses the whole file
(≈ 0.13 s for 120 pages, the same for 4 of them as for all): now only the first does. A stored
source never changes under its name (source_upload_to draws a new one for every upload)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import ExitStack, nullcontext
from pathlib import Path

from django.core.cache import cache
from django.db.models.fields.files import FieldFile
from redis.exceptions import RedisError

from ..engine.render import OverlayItem, PageGeometry, local_copy, pdf_geometry, pdf_overlays
from ..engine.sandbox import PdfRefused
from ..models import Copy
from ..selectors.review import ReviewRow

logger = logging.getLogger(__name__)


# How long a source's geometry is kept once read (the downloads of a class come within days).
GEOMETRY_KEEP_S = 14 * 24 * 3600


def _geometry_key(name: str) -> str:
    return "pdf-geometry:" + hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()


def source_geometry(name: str, path: Path) -> list[PageGeometry]:
    """The geometry of every page of the stored source `name` (its local copy at `path`): from
    the cache, else read in the sandbox and kept. Redis out of reach only costs the reading."""
    try:
        kept = cache.get(_geometry_key(name))
    except RedisError:
        logger.warning("PDF geometry cache unavailable", exc_info=True)
        return pdf_geometry(path)
    if kept is not None:
        return kept
    geometry = pdf_geometry(path)
    try:
        cache.set(_geometry_key(name), geometry, GEOMETRY_KEEP_S)
    except RedisError:
        logger.warning("PDF geometry not kept", exc_info=True)
    return geometry


class SourcePaths:
    """Local copies of the copies' source PDFs while a zip (or one copy's download) is written:
    a class scanned as one PDF is copied out of storage once for its 30 (or 300) copies, not
    once per copy, and its pages' geometry read once (source_geometry). Only the last source is
    kept (the copies of one PDF come together), so the disk holds one at a time."""

    def __init__(self) -> None:
        self._name = ""
        self._path: Path | None = None
        self._geometry: list[PageGeometry] | None = None
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
        if self._geometry is None:
            self._geometry = source_geometry(self._name, path)
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
