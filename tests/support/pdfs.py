"""PDFs generated for engine tests and the benchmark: text-layer pages and scanned pages."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator


def text_pdf(texts: list[str]) -> bytes:
    """A PDF whose pages carry a real text layer (Helvetica, Windows-1252: accents read back), written by hand."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    font_id = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    for text in texts:
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252", "replace")
        stream = b"BT /F1 18 Tf 72 760 Td (" + safe + b") Tj ET"
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % kid for kid in kids),
        len(kids),
    )
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _scan(number: int, size: tuple[int, int], seed: int):
    from PIL import Image, ImageDraw, ImageFilter

    rng = random.Random(seed + number)  # noqa: S311
    image = Image.new("L", size, 235)
    draw = ImageDraw.Draw(image)
    for line in range(40):
        y = 80 + line * (size[1] - 160) // 40
        x = 80
        while x < size[0] - 120:
            width = rng.randint(10, 60)
            draw.line(
                [(x, y + rng.randint(-3, 3)), (x + width, y + rng.randint(-3, 3))], fill=rng.randint(20, 90), width=2
            )
            x += width + rng.randint(8, 20)
    draw.text((80, 30), f"Page {number}", fill=0)
    return image.filter(ImageFilter.GaussianBlur(0.6)).convert("RGB")


def scanned_pages(count: int, *, size: tuple[int, int] = (1240, 1754), seed: int = 1, distinct: int = 6) -> Iterator:
    # A few distinct scans, cycled: drawing 200 different pages would take minutes.
    scans = [_scan(number, size, seed) for number in range(1, min(count, distinct) + 1)]
    for number in range(count):
        yield scans[number % len(scans)]


def scanned_pdf(count: int, *, size: tuple[int, int] = (1240, 1754), seed: int = 1) -> bytes:
    """A scanned-looking PDF (one JPEG image per page, 150 dpi A4 by default, no text layer)."""
    pages = scanned_pages(count, size=size, seed=seed)
    first = next(pages)
    buffer = io.BytesIO()
    first.save(buffer, format="PDF", save_all=True, append_images=pages, resolution=150.0, quality=70)
    return buffer.getvalue()
