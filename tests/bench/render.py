"""Validates and renders a PDF, sandboxed and in this process; prints the bench lines.

python -m tests.bench.render file.pdf

- validate: `pdf_validate` as an upload runs it (the sandbox walks the page tree and loads
  every page in a child), against what it did before the sandbox (pdfium opened the file in
  this process and read /Count: no page loaded).
- render: `pdf_pages` (one child for the file, pages streamed back) against the same
  pypdfium2 calls made in this process, as before the sandbox. overhead_ms is per file.

Peaks: the child's own (the VmHWM it reports); this process's after the sandboxed render
(parent_peak) and after the in-process one (direct_peak). Times: the best of ROUNDS runs;
cpu_s counts the child's CPU and this process's (reading the frames), less sensitive than
wall time to a loaded machine.
"""

from __future__ import annotations

import io
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
ROUNDS = 3


def _peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve, so a process
    # spawned by a big parent would report the parent's peak.
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _direct_render(path: str) -> int:
    """What pdf_pages did before the sandbox: pypdfium2 in the calling process."""
    import pypdfium2 as pdfium

    from grading.engine.render import JPEG_QUALITY, LONG_SIDE, MAX_TEXT_CHARS

    document = pdfium.PdfDocument(path)
    for index in range(len(document)):
        page = document[index]
        bitmap = page.render(scale=LONG_SIDE / max(page.get_size()), rev_byteorder=True)
        image = bitmap.to_pil().convert("RGB")
        image.save(io.BytesIO(), format="JPEG", quality=JPEG_QUALITY, optimize=True)
        text_page = page.get_textpage()
        text_page.get_text_bounded()[:MAX_TEXT_CHARS]
        text_page.close()
        bitmap.close()
        page.close()
    count = len(document)
    document.close()
    return count


def _spawn_ms(samples: int = 9) -> float:
    """The fixed cost of one sandboxed document: a child that opens a one-page file."""
    import statistics
    import tempfile

    from grading.engine.render import pdf_page_count
    from tests.support.pdfs import text_pdf

    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(text_pdf(["x"]))
        tmp.flush()
        times = []
        for _sample in range(samples):
            started = time.perf_counter()
            pdf_page_count(tmp.name)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _inspect_peak_kb(path: str) -> int:
    """The validating child's own peak (pdf_validate keeps its figures to itself)."""
    from django.conf import settings

    from grading.engine.sandbox import PAGE_MAX_SIDE_PT, PAGE_TREE_MAX_DEPTH, sandbox_run

    for header, _payload in sandbox_run(
        "inspect",
        path=path,
        max_pages=settings.UPLOAD_MAX_PAGES,
        max_depth=PAGE_TREE_MAX_DEPTH,
        max_side_pt=PAGE_MAX_SIDE_PT,
        image_max_pixels=settings.PDF_IMAGE_MAX_MEGAPIXELS * 1_000_000,
    ):
        if header.get("end"):
            return header["peak_rss_kb"]
    raise RuntimeError("no last frame")


def main(path: str) -> None:
    import django
    from django.core.files.uploadedfile import SimpleUploadedFile

    django.setup()
    import pypdfium2 as pdfium

    from grading.engine.render import pdf_pages
    from grading.validation import pdf_validate

    data = open(path, "rb").read()  # noqa: SIM115

    started = time.perf_counter()
    info = pdf_validate(SimpleUploadedFile("bench.pdf", data))
    validate_ms = (time.perf_counter() - started) * 1000
    validate_peak_kb = _inspect_peak_kb(path)

    # Alternated and the best of ROUNDS kept: on a shared machine the noise is larger than
    # the difference being measured.
    stats: dict = {}
    sandbox_s = direct_s = float("inf")
    sandbox_cpu = direct_cpu = float("inf")
    for round_number in range(ROUNDS):
        started, cpu = time.perf_counter(), time.process_time()
        pages = sum(1 for _page in pdf_pages(path, stats=stats))
        sandbox_s = min(sandbox_s, time.perf_counter() - started)
        sandbox_cpu = min(sandbox_cpu, stats["cpu_s"] + time.process_time() - cpu)  # child + parent
        if round_number == 0:
            parent_peak = _peak_rss_mb()  # before pdfium ever ran in this process
        started, cpu = time.perf_counter(), time.process_time()
        _direct_render(path)
        direct_s = min(direct_s, time.perf_counter() - started)
        direct_cpu = min(direct_cpu, time.process_time() - cpu)

    spawn_ms = _spawn_ms()
    started = time.perf_counter()
    document = pdfium.PdfDocument(data)
    len(document)
    document.close()
    before_validate_ms = (time.perf_counter() - started) * 1000

    print(
        f"validate pages={info.page_count} sandbox_ms={validate_ms:.0f} "
        f"child_peak_rss_mb={validate_peak_kb / 1024:.0f} "
        f"before_ms={before_validate_ms:.0f} (before: /Count read in-process, no page loaded)"
    )
    print(
        f"render pages={pages} ms_per_page={sandbox_s * 1000 / pages:.1f} "
        f"direct_ms_per_page={direct_s * 1000 / pages:.1f} overhead_ms={(sandbox_s - direct_s) * 1000:.0f} "
        f"spawn_ms={spawn_ms:.0f} "
        f"cpu_s={sandbox_cpu:.1f} direct_cpu_s={direct_cpu:.1f} child_peak_rss_mb={stats['peak_rss_kb'] / 1024:.0f} "
        f"parent_peak_rss_mb={parent_peak:.0f} direct_peak_rss_mb={_peak_rss_mb():.0f}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
