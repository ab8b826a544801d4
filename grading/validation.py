"""Validation of uploaded PDFs, before anything is stored.

A file is accepted only when it is a real PDF (magic bytes, complete, opens with pdfium),
not encrypted, has at least one page and stays within the size and page limits. Otherwise
`PdfInvalid` carries a translated message for the teacher.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

# Overridable in settings; the defaults are the product's limits.
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_PAGES = 300
_PAGE_TREE = re.compile(rb"/Type\s*/Pages\b")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


class PdfInvalid(Exception):
    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class PdfInfo:
    page_count: int
    size_bytes: int
    sha256: str


def pdf_limits() -> tuple[int, int]:
    return (
        getattr(settings, "UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES),
        getattr(settings, "UPLOAD_MAX_PAGES", DEFAULT_MAX_PAGES),
    )


def _read(upload: UploadedFile, limit: int) -> bytes:
    upload.seek(0)
    data = upload.read(limit + 1)
    upload.seek(0)
    return data


def pdf_validate(upload: UploadedFile) -> PdfInfo:
    max_bytes, max_pages = pdf_limits()
    size = upload.size or 0
    if size == 0:
        raise PdfInvalid(_("Le fichier est vide."))
    if size > max_bytes:
        raise PdfInvalid(
            _("Le fichier dépasse la taille maximale de %(max)s Mo.") % {"max": max_bytes // (1024 * 1024) or 1}
        )
    data = _read(upload, max_bytes)
    if len(data) > max_bytes:
        raise PdfInvalid(
            _("Le fichier dépasse la taille maximale de %(max)s Mo.") % {"max": max_bytes // (1024 * 1024) or 1}
        )
    # The PDF header must come first (a few bytes of junk before it are tolerated by readers).
    if b"%PDF-" not in data[:1024]:
        raise PdfInvalid(_("Ce fichier n'est pas un PDF."))
    # A complete PDF ends with %%EOF; pdfium would silently "repair" a cut file.
    if b"%%EOF" not in data[-1024:]:
        raise PdfInvalid(_("Le PDF est incomplet (fichier tronqué). Déposez-le à nouveau."))
    # The trailer (or xref stream) of an encrypted PDF names its /Encrypt dictionary. Checked
    # on the bytes because pdfium opens owner-password-only files without complaint.
    if b"/Encrypt" in data:
        raise PdfInvalid(_("Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection."))
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        # pdfium refuses a document without pages without setting an error code, and its
        # error code is process-wide: it may still hold an earlier file's error. So "no pages"
        # is read from the bytes (a page tree without a single page object), not from the code.
        if _PAGE_TREE.search(data) and not _PAGE_OBJECT.search(data):
            raise PdfInvalid(_("Le PDF ne contient aucune page.")) from error
        if getattr(error, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise PdfInvalid(
                _("Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection.")
            ) from error
        raise PdfInvalid(_("Le PDF est illisible ou endommagé.")) from error
    try:
        if pdfium_c.FPDF_GetSecurityHandlerRevision(document.raw) != -1:
            raise PdfInvalid(
                _("Le PDF est protégé (chiffré ou par mot de passe) : déposez une version sans protection.")
            )
        page_count = len(document)
    finally:
        document.close()
    if page_count == 0:
        raise PdfInvalid(_("Le PDF ne contient aucune page."))
    if page_count > max_pages:
        raise PdfInvalid(
            _("Le PDF a %(count)s pages ; la limite est de %(max)s pages par fichier.")
            % {"count": page_count, "max": max_pages}
        )
    return PdfInfo(page_count=page_count, size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
