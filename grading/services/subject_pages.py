"""The subject's pages as images: shown beside the barème the detection model proposed (issue 17),
so the teacher checks each question against the subject without opening the PDF elsewhere, and
sent in every grading prompt (issue 18).

Rendered once per subject file by a task on the render queue (sandboxed, one page at a time,
never in a web request), enqueued when the subject is stored and again when a job starts without
them, and kept in the cache like the split screen's thumbnails (services.uploads): shared by every
web and worker machine, gone on their own. Keyed by the exam and its subject file's stored name,
random for each upload (models.source_upload_to): a new subject never shows the old one's pages.
The pages go in first, then a summary of them (sizes, text layers), which readers wait for.

One size serves both: the model's (engine.render.LONG_SIDE), so the prompt's images are these
very bytes; the page's column shows them scaled down. A grading worker reads them once per process
(subject_prompt_pages) and renders them itself only when the cache lost them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import cache
from django.db import transaction

from ..engine.detection import BAREME_MAX_PAGES
from ..engine.errors import EngineError
from ..engine.prompts import SUBJECT_MAX_PAGES, data_url, subject_prompt_render
from ..engine.render import LONG_SIDE, local_copy, pdf_page_count, pdf_pages
from ..models import Exam
from ..tasks import subject_pages_render_task

# The model's size: the prompt sends these images as they are (its prefix must stay byte for byte
# what a render in the worker gives); beside the rows (a column about 600 px wide) they are scaled.
SUBJECT_PAGE_LONG_SIDE = LONG_SIDE
# The pages the detection model reads (engine.detection): what its proposal can come from. The
# grading prompt's pages are the first of them.
SUBJECT_PAGES_MAX = BAREME_MAX_PAGES
assert SUBJECT_MAX_PAGES <= SUBJECT_PAGES_MAX
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
    return _base_of(exam.pk, name)


def _base_of(exam_id: int, name: str) -> str:
    return f"grading:subject:{exam_id}:{_version(name)}"


def subject_page_key(exam: Exam, index: int) -> str:
    return f"{_base(exam, exam.subject_file.name)}:{index}"


def subject_pages_render(*, exam: Exam) -> int:
    """Renders the subject's first pages (SUBJECT_PAGES_MAX) into the cache, then their summary;
    a subject that cannot be rendered is remembered as such. Returns the pages rendered."""
    name = exam.subject_file.name
    sizes: list[tuple[int, int]] = []
    texts: list[str] = []
    total = 0
    try:
        with local_copy(name, storage=exam.subject_file.storage) as path:
            total = pdf_page_count(path)
            for page in pdf_pages(path, last=min(total, SUBJECT_PAGES_MAX), long_side=SUBJECT_PAGE_LONG_SIDE):
                cache.set(subject_page_key(exam, page.index), page.jpeg, SUBJECT_PAGES_TTL_S)
                sizes.append((page.width, page.height))
                texts.append(page.text)
    except EngineError:
        cache.set(_base(exam, name), {"sizes": [], "texts": [], "total": 0}, SUBJECT_PAGES_TTL_S)
        raise
    else:
        cache.set(_base(exam, name), {"sizes": sizes, "texts": texts, "total": total}, SUBJECT_PAGES_TTL_S)
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


def subject_pages_ensure(*, exam: Exam) -> None:
    """Enqueues the render unless the pages are in the cache (a job starts: its copies read them)."""
    if exam.subject_file and cache.get(_base(exam, exam.subject_file.name)) is None:
        subject_pages_enqueue(exam=exam)


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


def subject_pages_counted(*, exam: Exam) -> tuple[tuple[str, str], ...] | None:
    """Stand-ins for the prompt's subject pages (empty images, their text layers), as many as the
    render's summary says, for the estimates a job's start makes in the web request: counted as
    the worker counts the prompt's (a copy's first hold, given at the start, then covers its
    first round exactly). None without a summary (the engine counts the pages in the sandbox then)."""
    kept = cache.get(_base(exam, exam.subject_file.name)) if exam.subject_file else None
    if not kept or not kept["sizes"]:
        return None
    count = min(int(kept["total"]), SUBJECT_MAX_PAGES)
    texts = [str(text) for text in kept.get("texts", [])[:count]]
    return tuple(("", text) for text in texts + [""] * (count - len(texts)))


_prompt_lock = threading.Lock()


def subject_prompt_pages(*, exam: Exam) -> tuple[tuple[str, str], ...]:
    """The subject's pages as the grading prompt sends them, (data URL, text layer) each: read
    from the cache, or rendered here when they are not there (the render queue has not rendered
    them yet, or the cache lost them). The same either way, byte for byte: the providers' prefix
    caching needs it."""
    if not exam.subject_file:
        return ()
    # A worker grades many copies of one exam at once: the pages are read (or rendered) once per
    # process, not once per thread that happens to start at the same moment.
    with _prompt_lock:
        return _prompt_pages(exam.pk, exam.subject_file.name)


@lru_cache(maxsize=32)
def _prompt_pages(exam_id: int, name: str) -> tuple[tuple[str, str], ...]:
    kept = _prompt_pages_kept(exam_id, name)
    if kept is not None:
        return kept
    # Not rendered yet (the job's start asked for it), lost, or refused: this render says why.
    return subject_prompt_render(name, storage=Exam._meta.get_field("subject_file").storage)


def _prompt_pages_kept(exam_id: int, name: str) -> tuple[tuple[str, str], ...] | None:
    return subject_pages_cached(exam_id=exam_id, name=name, last=SUBJECT_MAX_PAGES)


def subject_pages_cached(*, exam_id: int, name: str, last: int) -> tuple[tuple[str, str], ...] | None:
    """The subject's first `last` pages (or all, when fewer) as (data URL, text layer), read from
    the render queue's cache: the very bytes a render at the model's size gives. None unless every
    one of them is there (not rendered yet, lost, or a subject the sandbox refused)."""
    base = _base_of(exam_id, name)
    kept = cache.get(base)
    count = min(int(kept["total"]), last, SUBJECT_PAGES_MAX) if kept else 0
    texts = kept.get("texts", []) if kept else []
    if not count or len(texts) < count:
        return None
    keys = [f"{base}:{index}" for index in range(1, count + 1)]
    jpegs = cache.get_many(keys)
    if len(jpegs) < count:
        return None
    return tuple((data_url(jpegs[key]), text) for key, text in zip(keys, texts[:count], strict=True))


def subject_pages_forget(*, exam_id: int, name: str) -> None:
    """Deletes the subject's pages, their summary and render marker from the cache (its file is
    purged: the images are the subject's, which goes with the students' files)."""
    base = _base_of(exam_id, name)
    keys = [base, f"{base}:task", *(f"{base}:{index}" for index in range(1, SUBJECT_PAGES_MAX + 1))]
    cache.delete_many(keys)
