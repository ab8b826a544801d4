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

Only one page bitmap exists at a time, so a 200-page scan renders in a few tens of MB.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from .errors import EngineError

LONG_SIDE = 1400
JPEG_QUALITY = 75
MAX_TEXT_CHARS = 6000


@dataclass(frozen=True)
class RenderedPage:
    index: int  # 1-based in the document
    jpeg: bytes
    width: int
    height: int
    text: str


def _open(path: str | Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise EngineError(_("Le PDF est illisible ou protégé : %(error)s") % {"error": exc}) from exc


def pdf_page_count(path: str | Path) -> int:
    pdf = _open(path)
    try:
        return len(pdf)
    finally:
        pdf.close()


def pdf_pages(
    path: str | Path, *, first: int = 1, last: int | None = None, long_side: int = LONG_SIDE
) -> Iterator[RenderedPage]:
    """Yields pages `first`..`last` (1-based, inclusive) rendered to JPEG, one at a time."""
    import pypdfium2 as pdfium

    pdf = _open(path)
    try:
        count = len(pdf)
        last = min(last or count, count)
        if first < 1 or first > last:
            raise EngineError(
                _("Pages %(first)s à %(last)s absentes du PDF (%(count)s pages).")
                % {"first": first, "last": last, "count": count}
            )
        for number in range(first, last + 1):
            page = pdf[number - 1]
            try:
                width, height = page.get_size()
                scale = long_side / max(width, height, 1)
                bitmap = page.render(scale=scale, rev_byteorder=True)
                image = bitmap.to_pil().convert("RGB")
                buffer = io.BytesIO()
                image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
                text_page = page.get_textpage()
                text = text_page.get_text_bounded()[:MAX_TEXT_CHARS].strip()
                text_page.close()
                size = image.size
                image.close()
                bitmap.close()
            except pdfium.PdfiumError as exc:
                raise EngineError(
                    _("La page %(page)s du PDF est illisible : %(error)s") % {"page": number, "error": exc}
                ) from exc
            finally:
                page.close()
            yield RenderedPage(index=number, jpeg=buffer.getvalue(), width=size[0], height=size[1], text=text)
    finally:
        pdf.close()


@contextmanager
def local_copy(name: str, storage=None) -> Iterator[Path]:
    """A local path for a stored file (S3 or disk alike), removed afterwards."""
    from django.core.files.storage import default_storage

    storage = storage or default_storage
    with storage.open(name, "rb") as source, tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        shutil.copyfileobj(source, tmp, length=1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)
