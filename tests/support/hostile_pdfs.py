"""A corpus of hostile and edge-case PDFs, generated (nothing binary is committed).

Each `Case` says what the upload must answer (accepted with N pages, or refused with a
message) and, for an accepted file, what rendering its pages must give. The bombs are built
in milliseconds whatever they expand to: a deflate stream of a repeated block is one
self-contained chunk (zlib's full flush) written N times, with its Adler-32 combined
arithmetically, so a 2.5 GB image costs a few kB of file and no time to make.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from tests.support.pdfs import scanned_pdf, text_pdf

MIB = 1024 * 1024
_ADLER = 65521


def _adler32_combine(first: int, second: int, second_length: int) -> int:
    """zlib's adler32_combine(): the checksum of A + B from those of A and B."""
    rem = second_length % _ADLER
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % _ADLER
    sum1 += (second & 0xFFFF) + _ADLER - 1
    sum2 += ((first >> 16) & 0xFFFF) + ((second >> 16) & 0xFFFF) + _ADLER - rem
    sum1 %= _ADLER
    sum2 %= _ADLER
    return sum1 | (sum2 << 16)


def flate_repeated(block: bytes, times: int) -> bytes:
    """A zlib stream that inflates to `block` × `times`, made without inflating anything."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    body = bytearray()
    checksum, length, unit, unit_length, left = 1, 0, zlib.adler32(block), len(block), times
    # Square-and-multiply over the checksum; the body is the same chunk `times` times.
    while left:
        if left & 1:
            checksum = _adler32_combine(checksum, unit, unit_length) if length else unit
            length += unit_length
        unit = _adler32_combine(unit, unit, unit_length)
        unit_length *= 2
        left >>= 1
    body += chunk * times
    return b"\x78\xda" + bytes(body) + b"\x03\x00" + checksum.to_bytes(4, "big")


def stream(entries: bytes, data: bytes, *, flate: int = 0) -> bytes:
    """A stream object. With `flate` ≥ 1, `data` is already one zlib layer (flate_repeated)
    and flate - 1 more are added, each listed as a /FlateDecode filter."""
    filters = b" ".join([b"/FlateDecode"] * flate)
    for _ in range(flate - 1):
        data = zlib.compress(data, 9)
    filter_entry = b" /Filter [" + filters + b"]" if flate else b""
    return b"<< " + entries + filter_entry + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def document(objects: list[bytes], *, trailer: bytes = b"") -> bytes:
    """Objects numbered from 1 (object 1 is the catalog), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R " % (len(objects) + 1) + trailer + b" >>\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def one_page(content: bytes = b"", *, resources: bytes = b"", extra: list[bytes] = (), media: bytes = b"0 0 595 842"):
    """Catalog (1), pages (2), page (3), its content (4), then `extra` objects from 5."""
    return document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox ["
            + media
            + b"] /Contents 4 0 R /Resources << "
            + resources
            + b" >> >>",
            stream(b"", content),
            *extra,
        ]
    )


def flat_tree(real: int, *, count: int | None = None, kids: list[bytes] | None = None) -> bytes:
    """`real` page objects under one /Pages node whose /Count says `count` (default: the truth)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    refs = []
    for _ in range(real):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>")
        refs.append(b"%d 0 R" % len(objects))
    refs += kids or []
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(refs), len(refs) if count is None else count)
    return document(objects)


def deep_tree(depth: int) -> bytes:
    """One page under `depth` nested /Pages nodes."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):
        number = len(objects) + 1
        parent = b"/Parent %d 0 R " % (number - 1) if level else b""
        objects.append(b"<< /Type /Pages /Kids [%d 0 R] /Count 1 %s>>" % (number + 1, parent))
    objects.append(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] >>" % len(objects))
    return document(objects)


def cyclic_tree() -> bytes:
    return document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
        ]
    )


def shared_page_fanout(times: int) -> bytes:
    """One page object listed `times` times in /Kids: `times` pages to anyone who counts."""
    return document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [" + b"3 0 R " * times + b"] /Count %d >>" % times,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        ]
    )


def image_pdf(*, width: int, height: int, data: bytes, flate: int, colorspace: bytes = b"/DeviceGray") -> bytes:
    image = stream(
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8"
        % (width, height, colorspace),
        data,
        flate=flate,
    )
    return one_page(b"q 595 0 0 842 0 0 cm /Im0 Do Q", resources=b"/XObject << /Im0 5 0 R >>", extra=[image])


def image_bomb(side: int = 50_000) -> bytes:
    """A side × side grey image: side² bytes (2.5 GB at 50 000 px) in a few kB."""
    return image_pdf(width=side, height=side, data=flate_repeated(bytes(side), side), flate=2)


def content_bomb(mib: int = 512) -> bytes:
    """A page whose content stream inflates to `mib` MiB of drawing operators."""
    block = b"0 0 m 1 1 l S\n" * (MIB // 14)
    return document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
            stream(b"", flate_repeated(block, mib), flate=2),
        ]
    )


def xobject_fanout(levels: int = 8, fanout: int = 10) -> bytes:
    """Form XObjects each drawing the one below `fanout` times: fanout**levels paths."""
    forms = [stream(b"/Type /XObject /Subtype /Form /BBox [0 0 10 10]", b"0 0 m 10 10 l S")]
    for level in range(1, levels + 1):
        below = 5 + level - 1
        forms.append(
            stream(
                b"/Type /XObject /Subtype /Form /BBox [0 0 10 10] /Resources << /XObject << /X %d 0 R >> >>" % below,
                b"/X Do " * fanout,
            )
        )
    top = 5 + levels
    return one_page(b"/X Do", resources=b"/XObject << /X %d 0 R >>" % top, extra=forms)


def metadata_bomb(mib: int = 3072) -> bytes:
    """A catalog whose XMP metadata stream inflates to `mib` MiB (3 GiB by default)."""
    metadata = stream(b"/Type /Metadata /Subtype /XML", flate_repeated(b"<x/>" * (MIB // 4), mib), flate=2)
    return document(
        [
            b"<< /Type /Catalog /Pages 2 0 R /Metadata 4 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            metadata,
        ]
    )


def _unloadable_second_page() -> bytes:
    """/Count and /Kids agree on 2 pages, but the second kid is a number, not a page."""
    return document(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
            b"42",
        ]
    )


def many_images(count: int = 200, side: int = 10_000) -> bytes:
    """`count` distinct side × side images on one page: each under the per-image limit,
    together seconds of decoding, which only rendering does."""
    image_data = zlib.compress(flate_repeated(bytes(side), side), 9)
    images = [
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8"
        b" /Filter [/FlateDecode /FlateDecode] /Length %d >>\nstream\n"
        % (side, side, len(image_data))
        + image_data
        + b"\nendstream"
        for _ in range(count)
    ]
    names = b" ".join(b"/I%d %d 0 R" % (n, 5 + n) for n in range(count))
    draws = b" ".join(b"q 20 0 0 20 %d %d cm /I%d Do Q" % (20 * (n % 25), 20 * (n // 25), n) for n in range(count))
    return one_page(draws, resources=b"/XObject << " + names + b" >>", extra=images)


def padded_pdf(size: int) -> bytes:
    """A valid one-page PDF of exactly `size` bytes (an unused stream object pads it)."""
    pad = size
    for _ in range(3):
        data = one_page(b"BT ET", extra=[stream(b"", b"%" * max(pad, 0))])
        pad += size - len(data)
    assert len(data) == size, (len(data), size)
    return data


def pdfium_pdf(sizes: list[tuple[float, float]]) -> bytes:
    """Pages of the given sizes (points), written by pdfium: a producer's ordinary output."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    for width, height in sizes:
        pdf.new_page(width, height)
    buffer = io.BytesIO()
    pdf.save(buffer)
    pdf.close()
    return buffer.getvalue()


def image_bytes(kind: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, format=kind)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


@dataclass(frozen=True)
class Case:
    """One file and what Corrigo must do with it.

    refused: the start of the upload's refusal (None: accepted with `pages` pages);
    render_failure: for an accepted file, the start of the copy's failure reason after its
    render task (None: every page rendered, `landscape` says which way round)."""

    name: str
    make: Callable[[], bytes]
    refused: str | None = None
    pages: int = 0
    render_failure: str | None = None
    landscape: bool = False


_A4 = (595, 842)
_DAMAGED_TREE = "Le PDF est endommagé : "
_HEAVY_PAGE = "Le PDF est trop lourd à traiter : sa page 1 demande plus de "

CORPUS = [
    # Ordinary files: accepted, every page rendered.
    Case("texte-a4", lambda: text_pdf(["Exercice 1", "Exercice 2", "Exercice 3"]), pages=3),
    Case("paysage", lambda: pdfium_pdf([(842, 595)]), pages=1, landscape=True),
    Case("scan", lambda: scanned_pdf(2, size=(620, 877)), pages=2),
    Case("pdfium-a4-a3", lambda: pdfium_pdf([_A4, (842, 1191)]), pages=2),
    Case("bom-devant", lambda: b"\xef\xbb\xbf" + text_pdf(["BOM"]), pages=1),
    Case("blancs-devant", lambda: b"\r\n \n" + text_pdf(["blancs"]), pages=1),
    Case("arbre-20-niveaux", lambda: deep_tree(20), pages=1),
    Case("page-listee-deux-fois", lambda: shared_page_fanout(2), pages=2),
    Case("page-14400pt", lambda: one_page(media=b"0 0 14400 14400"), pages=1),
    # Not a PDF, whatever its name says: told what it really is.
    Case("vide", lambda: b"", refused="Le fichier est vide."),
    Case("jpeg", lambda: image_bytes("JPEG"), refused="Ce fichier est une image JPEG, pas un PDF"),
    Case("png", lambda: image_bytes("PNG"), refused="Ce fichier est une image PNG, pas un PDF"),
    Case(
        "jpeg-derriere-entete",
        lambda: b"%PDF-1.4\n" + image_bytes("JPEG"),
        refused="Ce fichier est une image JPEG, pas un PDF",
    ),
    Case(
        "polyglotte-html",
        lambda: b"<!DOCTYPE html><html><body>Bonjour</body></html>\n" + text_pdf(["cache"]),
        refused="Ce fichier est une page web (HTML), pas un PDF.",
    ),
    Case("octets-devant", lambda: bytes(range(1, 65)) + text_pdf(["x"]), refused="Ce fichier n'est pas un PDF."),
    Case("docx", zip_bytes, refused="Ce fichier est un document Word, LibreOffice ou une archive ZIP"),
    Case("tronque", lambda: text_pdf(["a", "b"])[:300], refused="Le PDF est incomplet (fichier tronqué)."),
    Case("abime", lambda: b"%PDF-1.4\nnot really a pdf\n%%EOF\n", refused="Le PDF est illisible ou endommagé."),
    Case(
        "sans-pages",
        lambda: document([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]),
        refused="Le PDF ne contient aucune page.",
    ),
    # Page trees that lie or that readers give up on.
    Case(
        "count-1-pour-201-pages",
        lambda: flat_tree(201, count=1),
        refused=_DAMAGED_TREE + "sa table des pages en annonce 1 mais il en contient 201.",
    ),
    Case(
        "count-201-pour-1-page",
        lambda: flat_tree(1, count=201),
        refused=_DAMAGED_TREE + "sa table des pages en annonce 201 mais il en contient 1.",
    ),
    Case("arbre-70-niveaux", lambda: deep_tree(70), refused=_DAMAGED_TREE + "l'arborescence de ses pages dépasse"),
    Case(
        "arbre-sous-la-limite-de-pdfium",
        lambda: deep_tree(1100),
        refused=_DAMAGED_TREE + "l'arborescence de ses pages dépasse 64 niveaux.",
    ),
    Case("arbre-cyclique", cyclic_tree, refused=_DAMAGED_TREE + "l'arborescence de ses pages boucle sur elle-même."),
    Case(
        "page-illisible",
        _unloadable_second_page,
        refused="La page 2 du PDF ne peut pas être lue (elle est endommagée).",
    ),
    Case(
        "100000-pages",
        lambda: shared_page_fanout(100_000),
        refused="Le PDF a plus de 3000 pages ; la limite est de 300 pages par fichier.",
    ),
    Case(
        "mediabox-geante",
        lambda: one_page(media=b"0 0 1000000 1000000"),
        refused="La page 1 du PDF a des dimensions hors norme (35277,77 × 35277,77 cm)",
    ),
    Case(
        "page-14401pt",
        lambda: one_page(media=b"0 0 14401 842"),
        refused="La page 1 du PDF a des dimensions hors norme (508,03 × 29,70 cm) ; la limite est de 508 cm",
    ),
    # Bombs: stopped by the sandbox's limits, the teacher told which.
    Case("flux-512-mio", content_bomb, refused=_HEAVY_PAGE),
    Case("xobjects-en-eventail", xobject_fanout, refused=_HEAVY_PAGE),
    Case("xmp-3-gio", metadata_bomb, refused="Le PDF est trop lourd à traiter : il demande plus de "),
    Case(
        "image-50000px",
        image_bomb,
        refused="La page 1 du PDF contient une image de 50000 × 50000 pixels",
    ),
    Case("200-images-de-100-mpx", many_images, pages=1, render_failure=_HEAVY_PAGE),
]
