"""The PDF sandbox's child process: everything that parses a PDF runs here, never in Django.

Started by grading.engine.sandbox as `python -I -B pdf_child.py <address_space_bytes>
<file_cpu_s>`, one process per document. It applies its limits before reading anything, then
reads one JSON request line on stdin and answers with frames on stdout: a 4-byte big-endian
header length, a JSON header, then `header["size"]` bytes of payload (a page's JPEG). The
parent trusts none of it (JSON, sizes checked): a pdfium exploit gets this process, whose
limits it cannot raise, and no pickle into the parent.

Only the standard library, pypdfium2, Pillow and pypdf (which also merges the annotated PDF's
overlay onto the pages): no Django, no project import (the
script runs by path, with `-I`). Errors are codes with numbers; the parent words them.
"""

from __future__ import annotations

import io
import json
import logging
import math
import resource
import struct
import sys
import warnings
from typing import Any

_OUT = sys.stdout.buffer


def _limits_apply(address_space: int, file_cpu: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    # SIGXCPU at the soft limit (re-armed per page, see _page_budget), SIGKILL one second later.
    resource.setrlimit(resource.RLIMIT_CPU, (file_cpu, file_cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # No file is ever written: stdout and stderr are pipes, which this limit does not cover.
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _page_budget(page_cpu: int) -> None:
    """Each page gets `page_cpu` seconds of its own, within what the whole file may use."""
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    resource.setrlimit(resource.RLIMIT_CPU, (min(math.ceil(_cpu_used()) + page_cpu, hard - 1), hard))


def _peak_rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _send(header: dict, payload: bytes = b"") -> None:
    header["size"] = len(payload)
    encoded = json.dumps(header).encode()
    _OUT.write(struct.pack(">I", len(encoded)) + encoded + payload)
    _OUT.flush()


class Refused(Exception):
    def __init__(self, code: str, **details):
        super().__init__(code)
        self.code = code
        self.details = details


def _tree_count(path: str, *, max_pages: int, max_depth: int) -> int:
    """Pages in the page tree, counted by walking it (pypdf), never from /Count.

    pdfium trusts a positive /Count, so a tree that lies about it would be read with pages
    missing or invented; this walk is what its count is checked against. A kid is a page
    unless it has /Kids, as pdfium decides; a node seen again on its own path is a cycle.
    """
    # pypdf imports a crypto provider (110 ms) that is never used: encrypted files are
    # refused before the walk.
    # A None entry in sys.modules makes `import cryptography` raise ImportError (importlib's
    # documented way to block a module); typeshed only allows modules there.
    sys.modules.setdefault("cryptography", None)  # type: ignore[arg-type]
    from pypdf import PdfReader
    from pypdf.generic import DictionaryObject, IndirectObject

    try:
        root = PdfReader(path, strict=False).trailer["/Root"]
        if not isinstance(root, DictionaryObject):
            raise Refused("unreadable")
        top = root.raw_get("/Pages")
    except Exception as error:
        raise Refused("unreadable") from error
    count = 0
    stack: list[tuple[Any, int, frozenset[object]]] = [(top, 0, frozenset())]
    while stack:
        node, depth, path_ids = stack.pop()
        key = (node.idnum, node.generation) if isinstance(node, IndirectObject) else id(node)
        node = node.get_object()
        if not isinstance(node, DictionaryObject) or "/Kids" not in node:
            count += 1
            if count > 10 * max_pages:  # far over the limit: the exact figure no longer matters
                raise Refused("too_many_pages", count=10 * max_pages, max=max_pages, more=True)
            continue
        if depth >= max_depth:
            raise Refused("tree_too_deep", depth=max_depth)
        if key in path_ids:
            raise Refused("tree_cycle")
        kids = node["/Kids"].get_object()
        if not isinstance(kids, list):
            raise Refused("unreadable")
        stack.extend((kid, depth + 1, path_ids | {key}) for kid in reversed(kids))
    return count


def _without_pages(path: str, *, max_depth: int) -> bool:
    try:
        return _tree_count(path, max_pages=1, max_depth=max_depth) == 0
    except Refused:
        return False


def _open(path: str):
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        code = getattr(error, "err_code", None)
        if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise Refused("protected") from error
        raise Refused("unreadable") from error
    if pdfium_c.FPDF_GetSecurityHandlerRevision(document.raw) != -1:
        document.close()
        raise Refused("protected")
    return document


def _page_load(document, number: int, *, max_side_pt: float):
    import pypdfium2 as pdfium

    try:
        page = document[number - 1]
    except pdfium.PdfiumError as error:
        raise Refused("page_unreadable", page=number) from error
    width, height = page.get_size()
    if not (0 < width <= max_side_pt and 0 < height <= max_side_pt):
        page.close()
        raise Refused("page_size", page=number, width=round(width, 2), height=round(height, 2))
    return page


def _images_check(page, number: int, *, max_pixels: int) -> None:
    """Images are decoded only when drawn: their declared size is read here, without decoding."""
    import pypdfium2.raw as pdfium_c

    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        width, height = image.get_px_size()
        if width * height > max_pixels:
            raise Refused("image_size", page=number, width=width, height=height)


def inspect(request: dict) -> None:
    """Validation: the tree walked, the count checked against pdfium's, every page loaded."""
    max_pages = request["max_pages"]
    _page_budget(request["page_cpu"])
    # pdfium first: it tells an encrypted file (which pypdf could not walk) from a broken one.
    try:
        document = _open(request["path"])
    except Refused as refusal:
        # pdfium will not open a document without pages, and says nothing more.
        if refusal.code == "unreadable" and _without_pages(request["path"], max_depth=request["max_depth"]):
            raise Refused("no_pages") from refusal
        raise
    count = _tree_count(request["path"], max_pages=max_pages, max_depth=request["max_depth"])
    if count == 0:
        raise Refused("no_pages")
    if count > max_pages:
        raise Refused("too_many_pages", count=count, max=max_pages)
    if len(document) != count:
        raise Refused("count_mismatch", declared=len(document), found=count)
    for number in range(1, count + 1):
        _page_budget(request["page_cpu"])
        _send({"step": number})
        # Loading parses the page's content streams (and the forms they draw): content bombs
        # go off here, under the limits, rather than later in a worker.
        page = _page_load(document, number, max_side_pt=request["max_side_pt"])
        _images_check(page, number, max_pixels=request["image_max_pixels"])
        page.close()
    _send({"end": True, "pages": count, "peak_rss_kb": _peak_rss_kb()})


def render(request: dict) -> None:
    """Pages first..last to JPEG, one at a time, each sent as soon as it is encoded."""
    _page_budget(request["page_cpu"])
    document = _open(request["path"])
    # `last` beyond the end means "up to the end": callers ask for at most N pages.
    first, last = request["first"], min(request["last"] or len(document), len(document))
    if not 1 <= first <= last <= len(document):
        raise Refused("range", first=first, last=last, count=len(document))
    long_side, max_side = request["long_side"], request["max_side_px"]
    for number in range(first, last + 1):
        _page_budget(request["page_cpu"])
        _send({"step": number})
        page = _page_load(document, number, max_side_pt=request["max_side_pt"])
        width, height = page.get_size()
        # The bitmap's size comes from here, not from the page: whatever the page declares
        # (0.01 pt, 14 400 pt, a 1:10 000 strip), its long side is long_side px, at most
        # max_side (pypdfium2 rounds each side up: half a pixel under keeps it there).
        scale = (min(long_side, max_side) - 0.5) / max(width, height)
        bitmap = page.render(scale=scale, rev_byteorder=True, limit_image_cache=True)
        image = bitmap.to_pil().convert("RGB")
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=request["jpeg_quality"], optimize=True)
        text_page = page.get_textpage()
        text = text_page.get_text_bounded()[: request["text_chars"]].strip()
        header = {"page": number, "width": image.width, "height": image.height, "text": text}
        text_page.close()
        bitmap.close()
        page.close()
        _send(header, buffer.getvalue())
    _send({"end": True, "pages": last - first + 1, "peak_rss_kb": _peak_rss_kb()})


def _pypdf_reader(source):
    sys.modules.setdefault("cryptography", None)  # type: ignore[arg-type]  # see _tree_count
    from pypdf import PdfReader

    try:
        return PdfReader(source, strict=False)
    except Exception as error:
        raise Refused("unreadable") from error


def _range(request: dict, count: int) -> tuple[int, int]:
    first, last = request["first"], min(request["last"] or count, count)
    if not 1 <= first <= last <= count:
        raise Refused("range", first=first, last=last, count=count)
    return first, last


def _rotation(page) -> int:
    """/Rotate as a viewer applies it: a multiple of 90 in 0..270 (anything else counts as 0)."""
    value = page.get("/Rotate", 0)
    value = value.get_object() if hasattr(value, "get_object") else value
    if not isinstance(value, int) or isinstance(value, bool) or value % 90:
        return 0
    return value % 360


def _visible_box(page, *, max_side_pt: float, number: int) -> list[float]:
    """The crop box within the media box: what a viewer shows, in the page's own space."""
    media, crop = page.mediabox, page.cropbox
    box = [
        max(float(media.left), float(crop.left)),
        max(float(media.bottom), float(crop.bottom)),
        min(float(media.right), float(crop.right)),
        min(float(media.top), float(crop.top)),
    ]
    width, height = box[2] - box[0], box[3] - box[1]
    if not (all(math.isfinite(v) for v in box) and 0 < width <= max_side_pt and 0 < height <= max_side_pt):
        raise Refused("page_size", page=number, width=round(width, 2), height=round(height, 2))
    return box


def geometry(request: dict) -> None:
    """Pages first..last: their visible box and rotation, as pypdf reads them (the overlay op
    merges with pypdf too, so both agree on where a point of the page is)."""
    _page_budget(request["page_cpu"])
    reader = _pypdf_reader(request["path"])
    first, last = _range(request, len(reader.pages))
    for number in range(first, last + 1):
        _page_budget(request["page_cpu"])
        page = reader.pages[number - 1]
        box = _visible_box(page, max_side_pt=request["max_side_pt"], number=number)
        _send({"page": number, "box": box, "rotate": _rotation(page)})
    _send({"end": True, "pages": last - first + 1})


def overlays(request: dict) -> None:
    """Items of one file (copies of a class scanned as one PDF), read once: pages first..last under
    the overlay's pages after its first `prefix` (the summary), each page's boxes, rotation and
    streams kept byte for byte in q … Q (pypdf merge_page). Sent in chunks, then {"item": i,
    "bytes": n}; or {"item": i, "refused": code}, and the next item goes on."""
    import base64

    from pypdf import PdfWriter, Transformation

    _page_budget(request["page_cpu"])
    reader = _pypdf_reader(request["path"])
    for index, item in enumerate(request["items"]):
        try:
            drawn = _pypdf_reader(io.BytesIO(base64.b64decode(item["overlay"])))
            (first, last), prefix = _range(item, len(reader.pages)), item["prefix"]
            if len(drawn.pages) != prefix + last - first + 1:
                raise Refused("unreadable")
            writer = PdfWriter()
            for page_index in range(prefix):
                writer.add_page(drawn.pages[page_index])
            for offset, number in enumerate(range(first, last + 1)):
                _page_budget(request["page_cpu"])
                page = writer.add_page(reader.pages[number - 1])
                box = _visible_box(page, max_side_pt=request["max_side_pt"], number=number)
                page.merge_transformed_page(drawn.pages[prefix + offset], Transformation().translate(box[0], box[1]))
                page.compress_content_streams()
        except Refused as refusal:
            _send({"item": index, "refused": refusal.code, **refusal.details})
            continue
        writer.write(buffer := io.BytesIO())
        data = buffer.getvalue()
        for start in range(0, len(data), _CHUNK):
            _send({"item": index, "chunk": start // _CHUNK}, data[start : start + _CHUNK])
        _send({"item": index, "bytes": len(data)})
    _send({"end": True, "items": len(request["items"]), "peak_rss_kb": _peak_rss_kb()})


_CHUNK = 8 * 1024 * 1024


def count(request: dict) -> None:
    document = _open(request["path"])
    _send({"end": True, "pages": len(document)})


def main() -> None:
    address_space, file_cpu = int(sys.argv[1]), int(sys.argv[2])
    _limits_apply(address_space, file_cpu)
    # pypdf logs every repair it makes; nobody reads them here and they cost time.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    request = json.loads(sys.stdin.readline())
    try:
        ops = {"inspect": inspect, "render": render, "count": count, "geometry": geometry, "overlays": overlays}
        ops[request["op"]](request)
    except Refused as refusal:
        _send({"end": True, "error": refusal.code, "peak_rss_kb": _peak_rss_kb(), **refusal.details})
    except MemoryError:
        _send({"end": True, "error": "memory"})
    except Exception:
        # pypdf and pypdfium2 raise many kinds of errors on a broken file; the parent logs
        # the traceback (stderr) and tells the teacher the file is unreadable.
        import traceback

        traceback.print_exc()
        _send({"end": True, "error": "unreadable"})


if __name__ == "__main__":
    main()
