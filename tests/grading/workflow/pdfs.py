"""PDFs for the tests, generated rather than committed.

`pdf_bytes` draws real pages with pypdfium2. pypdfium2 cannot encrypt, so `encrypted_pdf_bytes`
writes a minimal PDF by hand with a Standard security handler (revision 2, RC4 40-bit),
computing /O and /U as the PDF 1.4 reference's algorithms 3.2-3.4 say.
"""

from __future__ import annotations

import hashlib
import io

import pypdfium2 as pdfium

_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def pdf_bytes(pages: int = 1, *, text: str = "") -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(595, 842)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _padded(password: bytes) -> bytes:
    return (password + _PAD)[:32]


def raw_pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R ".encode() + trailer + b" >>\n"
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def encrypted_pdf_bytes(*, user_password: bytes = b"secret", owner_password: bytes = b"owner") -> bytes:
    file_id = hashlib.md5(b"corrigo-test", usedforsecurity=False).digest()
    permissions = -44
    owner_key = hashlib.md5(_padded(owner_password), usedforsecurity=False).digest()[:5]
    o_value = _rc4(owner_key, _padded(user_password))
    key = hashlib.md5(
        _padded(user_password) + o_value + permissions.to_bytes(4, "little", signed=True) + file_id,
        usedforsecurity=False,
    ).digest()[:5]
    u_value = _rc4(key, _PAD)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + o_value.hex().encode()
        + b"> /U <"
        + u_value.hex().encode()
        + b"> /P "
        + str(permissions).encode()
        + b" >>",
    ]
    trailer = b"/Encrypt 4 0 R /ID [<" + file_id.hex().encode() + b"> <" + file_id.hex().encode() + b">]"
    return raw_pdf(objects, trailer)
