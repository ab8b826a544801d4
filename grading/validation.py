"""Validation of uploaded PDFs, before anything is stored.

A file is accepted only when it is a PDF from its first byte (a UTF-8 BOM or whitespace
before `%PDF-` is tolerated and stripped from the upload), complete, not encrypted, within
the size limit, and when the PDF sandbox (grading.engine.sandbox) has walked its page tree,
found the count pdfium sees, and loaded every page within its memory and time limits.
Otherwise `PdfInvalid` carries a translated message that says what the file really is or
what is wrong with it.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from core.errors import ApplicationError

from .engine.sandbox import PAGE_MAX_SIDE_PT, PAGE_TREE_MAX_DEPTH, PdfRefused, sandbox_run

_BOM = b"\xef\xbb\xbf"
_HEADER = b"%PDF-"
# The header line and the comment lines after it (the binary marker): what follows is the body.
_HEADER_LINES = re.compile(rb"%PDF-[^\r\n]{0,32}(?:[\r\n]+%[^\r\n]{0,64})*")
_WHITESPACE = b" \t\r\n\f\x00"  # the PDF reference's white-space characters
_IMAGES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
_IMAGE_ENDS = ((b"\xff\xd9", "JPEG"), (b"IEND\xaeB`\x82", "PNG"))
_HTML = re.compile(rb"<(!doctype\s+html|html|head|body|script|iframe)\b", re.IGNORECASE)


class PdfInvalid(ApplicationError):
    """An upload refused before anything is stored; `.message` tells the teacher why."""


@dataclass(frozen=True)
class PdfInfo:
    page_count: int
    size_bytes: int
    sha256: str


def pdf_limits() -> tuple[int, int]:
    return settings.UPLOAD_MAX_BYTES, settings.UPLOAD_MAX_PAGES


def _image_format(data: bytes) -> str | None:
    for signature, name in _IMAGES:
        if data.startswith(signature):
            return name
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return "HEIC"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def _not_a_pdf(data: bytes) -> PdfInvalid:
    """What a file that does not start as a PDF really is, in the teacher's words."""
    image = _image_format(data)
    if image:
        return PdfInvalid(_image_message(image))
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        return PdfInvalid(
            _(
                "Ce fichier est un document Word, LibreOffice ou une archive ZIP, pas un PDF : "
                "exportez-le au format PDF, puis déposez-le à nouveau."
            )
        )
    if _HTML.search(data[:4096]):
        return PdfInvalid(_("Ce fichier est une page web (HTML), pas un PDF."))
    return PdfInvalid(_("Ce fichier n'est pas un PDF."))


def _image_message(image: str) -> str:
    return _(
        "Ce fichier est une image %(format)s, pas un PDF : enregistrez ou numérisez la copie "
        "au format PDF, puis déposez-la à nouveau."
    ) % {"format": image}


def _bytes_check(data: bytes) -> None:
    """What can be told from the bytes alone: the header at offset 0, the end, /Encrypt."""
    if not data.startswith(_HEADER):
        raise _not_a_pdf(data)
    # A `%PDF-` line put in front of an image (or of anything else) makes no PDF of it.
    # The pattern always matches here: data starts with %PDF-.
    header_end = header.end() if (header := _HEADER_LINES.match(data)) else len(_HEADER)
    image = _image_format(data[header_end:].lstrip(_WHITESPACE))
    if image:
        raise PdfInvalid(_image_message(image))
    # A complete PDF ends with %%EOF; pdfium would silently "repair" a cut file.
    if b"%%EOF" not in data[-1024:]:
        tail = data.rstrip()
        for end, name in _IMAGE_ENDS:
            if tail.endswith(end):
                raise PdfInvalid(_image_message(name))
        raise PdfInvalid(_("Le PDF est incomplet (fichier tronqué). Déposez-le à nouveau."))
    # The trailer (or xref stream) of an encrypted PDF names its /Encrypt dictionary. Checked
    # on the bytes because pdfium opens owner-password-only files without complaint.
    if b"/Encrypt" in data:
        raise PdfInvalid(_("Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection."))


def _sandbox_inspect(data: bytes, *, max_pages: int) -> int:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            for header, _payload in sandbox_run(
                "inspect",
                path=tmp.name,
                max_pages=max_pages,
                max_depth=PAGE_TREE_MAX_DEPTH,
                max_side_pt=PAGE_MAX_SIDE_PT,
                image_max_pixels=settings.PDF_IMAGE_MAX_MEGAPIXELS * 1_000_000,
            ):
                if header.get("end"):
                    pages = header.get("pages")
                    if isinstance(pages, int) and 0 < pages <= max_pages:
                        return pages
                    raise PdfRefused.unreadable(f"page count {pages!r}")
        except PdfRefused as refused:
            raise PdfInvalid(refused.message) from refused
    raise AssertionError("sandbox_run ends with its last frame or raises")


def _upload_replace(upload: UploadedFile, data: bytes) -> None:
    """Rewrites the upload's own file (in memory or temporary alike), so that whatever stores
    the upload afterwards stores `data`."""
    handle = upload.file
    if handle is None:  # typed optional by django-stubs; an upload being validated has its file
        raise ValueError("upload without a file")
    handle.seek(0)
    handle.write(data)
    handle.truncate()
    handle.flush()
    handle.seek(0)
    upload.size = len(data)


def _too_big(max_bytes: int) -> PdfInvalid:
    return PdfInvalid(
        _("Le fichier dépasse la taille maximale de %(max)s Mo.") % {"max": max_bytes // (1024 * 1024) or 1}
    )


def pdf_validate(upload: UploadedFile) -> PdfInfo:
    """Checks the upload (see the module's docstring); raises PdfInvalid with the reason."""
    max_bytes, max_pages = pdf_limits()
    size = upload.size or 0
    if size == 0:
        raise PdfInvalid(_("Le fichier est vide."))
    if size > max_bytes:
        raise _too_big(max_bytes)
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    upload.seek(0)
    if len(data) > max_bytes:
        raise _too_big(max_bytes)
    # A BOM or blank lines some tools put before the header: tolerated, and not stored.
    body = data.removeprefix(_BOM).lstrip(_WHITESPACE)
    if not body.startswith(_HEADER):
        body = data
    _bytes_check(body)
    page_count = _sandbox_inspect(body, max_pages=max_pages)
    if len(body) < len(data):
        _upload_replace(upload, body)
    return PdfInfo(page_count=page_count, size_bytes=len(body), sha256=hashlib.sha256(body).hexdigest())
