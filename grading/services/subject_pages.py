"""The subject's pages as images, shown beside the barème the detection model proposed (issue 17),
so the teacher checks each question against the subject without opening the PDF elsewhere.

Rendered by a task on the render queue (sandboxed, one page at a time, never in a web request)
and kept in the cache like the split screen's thumbnails (services.uploads): shared by every web
and worker machine, gone on their own. Keyed by the exam and its subject file's stored name,
random for each upload (models.source_upload_to): a new subject never shows the old one's pages.
The pages go in first, then a summary of them, which the page waits for.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction

from ..engine.detection import BAREME_MAX_PAGES
from ..engine.errors import EngineError
from ..engine.render import local_copy, pdf_page_count, pdf_pages
from ..models import Exam
from ..tasks import subject_pages_render_task

# Readable beside the rows (a column about 600 px wide) and opened alone, about 100 dpi on A4.
SUBJECT_PAGE_LONG_SIDE = 1100
# The pages the detection model reads (engine.detection): what its proposal can come from.
SUBJECT_PAGES_MAX = BAREME_MAX_PAGES
SUBJECT_PAGES_TTL_S = 2 * 24 * 3600
# A page asked for while its images are missing enqueues one render per this many seconds.
SUBJECT_PAGES_RETRY_S = 600


@dataclass(frozen=True)
class SubjectPages:
    """What the task rendered: each shown page's size (its first pages), out of `total`; no
    page at all when the subject could not be rendered."""

    sizes: tuple[tuple[int, int], ...]
    total: int
    version: str  # changes with the subject: the images' URLs, cached by the browser, follow it

    @property
    def pages(self) -> list[tuple[int, int, int]]:
        """(index, width, height) of each page shown, 1-based."""
        return [(n, width, height) for n, (width, height) in enumerate(self.sizes, start=1)]

    @property
    def failed(self) -> bool:
        return not self.sizes


def _version(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def _base(exam: Exam, name: str) -> str:
    return f"grading:subject:{exam.pk}:{_version(name)}"


def subject_page_key(exam: Exam, index: int) -> str:
    return f"{_base(exam, exam.subject_file.name)}:{index}"


def subject_pages_render(*, exam: Exam) -> int:
    """Renders the subject's first pages (SUBJECT_PAGES_MAX) into the cache, then their summary;
    a subject that cannot be rendered is remembered as such. Returns the pages rendered."""
    name = exam.subject_file.name
    sizes: list[tuple[int, int]] = []
    total = 0
    try:
        with local_copy(name, storage=exam.subject_file.storage) as path:
            total = pdf_page_count(path)
            for page in pdf_pages(path, last=min(total, SUBJECT_PAGES_MAX), long_side=SUBJECT_PAGE_LONG_SIDE):
                cache.set(subject_page_key(exam, page.index), page.jpeg, SUBJECT_PAGES_TTL_S)
                sizes.append((page.width, page.height))
    except EngineError:
        cache.set(_base(exam, name), {"sizes": [], "total": 0}, SUBJECT_PAGES_TTL_S)
        raise
    else:
        cache.set(_base(exam, name), {"sizes": sizes, "total": total}, SUBJECT_PAGES_TTL_S)
    finally:
        # Done: should the cache lose these pages later, the next page asks for them again.
        cache.delete(f"{_base(exam, name)}:task")
    return len(sizes)


def subject_pages_enqueue(*, exam: Exam) -> None:
    """Asks a worker for the subject's pages once while a render is in flight (a page polled, or
    many images missing from the cache at once, enqueue one render); again after
    SUBJECT_PAGES_RETRY_S if that render never ended (its worker lost)."""
    name = exam.subject_file.name
    if name and cache.add(f"{_base(exam, name)}:task", True, SUBJECT_PAGES_RETRY_S):
        transaction.on_commit(lambda: subject_pages_render_task.delay(exam.pk, name))


def subject_pages_get(*, exam: Exam) -> SubjectPages | None:
    """The subject's rendered pages, or None while they are not (a render is asked for then:
    the cache may have lost them)."""
    if not exam.subject_file:
        return None
    kept = cache.get(_base(exam, exam.subject_file.name))
    if kept is None:
        subject_pages_enqueue(exam=exam)
        return None
    sizes = tuple((int(w), int(h)) for w, h in kept["sizes"])
    return SubjectPages(sizes=sizes, total=int(kept["total"]), version=_version(exam.subject_file.name))


def subject_page_jpeg(*, exam: Exam, index: int) -> bytes | None:
    """One page's image, or None when the cache lost it (a render is asked for then)."""
    jpeg = cache.get(subject_page_key(exam, index))
    if jpeg is None:
        subject_pages_enqueue(exam=exam)
    return jpeg
