"""PDF pages to the JPEG images the engine sends, with pypdfium2, one page at a time.

Resolution: pages are scaled so their long side is LONG_SIDE = 1400 px (about 120 dpi
for A4), JPEG quality 75. Handwriting stays legible and the image-token bill stays low:
- OpenAI (high detail) scales any image to fit 2048 px, then its short side to 768 px and
  counts 170 tokens per 512-px tile + 85: an A4 page costs 6 tiles ≈ 1 105 tokens whatever
  we send above 768 px, so sending more pixels buys nothing.
- Anthropic counts ≈ width × height / 750 and downsizes anything over 1568 px on the long
  side: 990 × 1400 ≈ 1 850 tokens, just under the size it would shrink to.
- Gemini counts 258 tokens per 768 × 768 tile: 2 × 2 tiles here ≈ 1 030 tokens.
- Mistral / self-hosted vision models (Pixtral, Qwen-VL) tile at 16–28 px patches and cap
  their input around 1024–1540 px, so 1400 px is read at full resolution or close to it.
Going below ~1000 px makes small handwriting and exponents unreadable; above ~1600 px the
providers shrink the image anyway.

Rendering runs in the PDF sandbox (grading.engine.sandbox): a child process per document under
address-space and CPU limits, pages one at a time, streamed back as JPEG + text layer; only
one page bitmap exists at a time, so a 200-page scan renders in a few tens of MB.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .sandbox import PAGE_MAX_SIDE_PT, PdfRefused, SandboxLimits, refusal_message, sandbox_run

LONG_SIDE = 1400
# Whatever a caller asks for, no bitmap side goes past this (2000 × 2000 × 3 bytes = 12 MB).
MAX_SIDE_PX = 2000
JPEG_QUALITY = 75
MAX_TEXT_CHARS = 6000


@dataclass(frozen=True)
class RenderedPage:
    index: int  # 1-based in the document
    jpeg: bytes
    width: int
    height: int
    text: str


def pdf_page_count(path: str | Path) -> int:
    """pdfium's page count of a file validated earlier (grading.validation checked it page by page)."""
    for header, _payload in sandbox_run("count", path=str(path)):
        if header.get("end"):
            return _checked_int(header.get("pages"), 0, 1_000_000)
    raise AssertionError("sandbox_run ends with its last frame or raises")


def pdf_pages(
    path: str | Path,
    *,
    first: int = 1,
    last: int | None = None,
    long_side: int = LONG_SIDE,
    stats: dict | None = None,
) -> Iterator[RenderedPage]:
    """Yields pages `first`..`last` (1-based, inclusive) rendered to JPEG, one at a time.

    Rendered in the sandbox (grading.engine.sandbox): raises PdfRefused (an EngineError)
    with the teacher's reason when a page cannot be read or exceeds a limit. `stats`, when
    given, receives sandbox_run's figures.
    """
    frames = sandbox_run(
        "render",
        stats=stats,
        path=str(path),
        first=first,
        last=last,
        long_side=min(long_side, MAX_SIDE_PX),
        max_side_px=MAX_SIDE_PX,
        max_side_pt=PAGE_MAX_SIDE_PT,
        jpeg_quality=JPEG_QUALITY,
        text_chars=MAX_TEXT_CHARS,
    )
    expected = first
    with closing(frames):  # a refused frame or a caller that stops early kills the child now
        for header, payload in frames:
            if "page" in header:
                page = _page(header, payload, expected=expected)
                expected += 1
                yield page


@dataclass(frozen=True)
class PageGeometry:
    index: int  # 1-based in the document
    box: tuple[float, float, float, float]  # visible box (crop ∩ media) in the page's space, pt
    rotate: int  # 0, 90, 180 or 270: clockwise, as a viewer shows the page

    @property
    def shown_size(self) -> tuple[float, float]:
        """Width and height as the page is shown (after its rotation)."""
        width, height = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return (height, width) if self.rotate in (90, 270) else (width, height)


def pdf_geometry(path: str | Path, *, first: int = 1, last: int | None = None) -> list[PageGeometry]:
    """Pages `first`..`last`: visible box and rotation, read in the sandbox."""
    pages: list[PageGeometry] = []
    for header, _payload in sandbox_run(
        "geometry", path=str(path), first=first, last=last, max_side_pt=PAGE_MAX_SIDE_PT
    ):
        if "page" in header:
            box = header.get("box")
            if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, int | float) for v in box)):
                raise PdfRefused.unreadable("page geometry without a box")
            if not (0 < box[2] - box[0] <= PAGE_MAX_SIDE_PT and 0 < box[3] - box[1] <= PAGE_MAX_SIDE_PT):
                raise PdfRefused.unreadable("page box out of range")
            rotate = header.get("rotate")
            if rotate not in (0, 90, 180, 270):
                raise PdfRefused.unreadable(f"rotation {rotate!r}")
            pages.append(
                PageGeometry(
                    index=_checked_int(header.get("page"), first + len(pages), first + len(pages)),
                    box=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                    rotate=rotate,
                )
            )
    return pages


# The annotated PDF of one copy: its scanned pages, as uploaded, and a few pages of overlay.
OVERLAY_MAX_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class OverlayItem:
    """Pages `first`..`last` of a file, with `overlay`'s pages drawn over them (one per page,
    after its first `prefix` pages, which lead the result)."""

    first: int
    last: int
    overlay: bytes
    prefix: int


def pdf_overlays(path: str | Path, items: Sequence[OverlayItem]) -> Iterator[bytes | PdfRefused]:
    """Each item's annotated PDF, in the items' order, merged with pypdf by one sandbox child that
    reads the file once (a class scanned as one PDF was parsed again for each of its copies: the
    300-copy zip's time went as the square of the class). An item the child refuses comes as
    its PdfRefused, and the next ones go on. Raises PdfRefused when the child refuses the file
    or stops short (a limit, a crash): the items yielded before it stay good."""
    if not items:
        return
    frames = sandbox_run(
        "overlays",
        path=str(path),
        items=[
            {
                "first": item.first,
                "last": item.last,
                "prefix": item.prefix,
                "overlay": base64.b64encode(item.overlay).decode(),
            }
            for item in items
        ],
        max_side_pt=PAGE_MAX_SIDE_PT,
    )
    chunks: list[bytes] = []
    size = 0
    done = 0
    with closing(frames):
        for header, payload in frames:
            if header.get("end"):  # its last frame: the loop ends with the child, reaped
                if header.get("items") != len(items) or done != len(items):
                    raise PdfRefused.unreadable(f"{done} of {len(items)} annotated PDFs")
                continue
            if done == len(items):
                raise PdfRefused.unreadable("more annotated PDFs than asked for")
            _checked_int(header.get("item"), done, done)
            if "chunk" in header:
                _checked_int(header.get("chunk"), len(chunks), len(chunks))
                size += len(payload)
                if size > OVERLAY_MAX_BYTES:
                    raise PdfRefused.unreadable("annotated PDF too large")
                chunks.append(payload)
                continue
            if "refused" in header:
                code = str(header["refused"])
                refused = PdfRefused(refusal_message(code, header, SandboxLimits.current()), code=code)
                chunks, size, done = [], 0, done + 1
                yield refused
                continue
            if header.get("bytes") != size:
                raise PdfRefused.unreadable("annotated PDF cut short")
            data = b"".join(chunks)
            if not data.startswith(b"%PDF-"):
                raise PdfRefused.unreadable("annotated PDF without its header")
            chunks, size, done = [], 0, done + 1
            yield data


def _checked_int(value, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise PdfRefused.unreadable(f"out-of-range value {value!r}")
    return value


def _page(header: dict, jpeg: bytes, *, expected: int) -> RenderedPage:
    """The child's page, checked: it is the page asked for, a JPEG of a bounded size."""
    text = header.get("text")
    if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS or not jpeg.startswith(b"\xff\xd8\xff"):
        raise PdfRefused.unreadable("page frame without a JPEG or with a text too long")
    return RenderedPage(
        index=_checked_int(header.get("page"), expected, expected),
        jpeg=jpeg,
        width=_checked_int(header.get("width"), 1, MAX_SIDE_PX),
        height=_checked_int(header.get("height"), 1, MAX_SIDE_PX),
        text=text,
    )


@contextmanager
def local_copy(name: str, storage=None) -> Iterator[Path]:
    """A local path for a stored file (S3 or disk alike), removed afterwards."""
    from django.core.files.storage import default_storage

    storage = storage or default_storage
    with storage.open(name, "rb") as source, tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        shutil.copyfileobj(source, tmp, length=1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)
