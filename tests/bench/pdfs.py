"""`make bench-pdf`: the hostile-PDF corpus under the production limits (printed, never asserted).

python -m tests.bench.pdfs [--only NAME ...]

For each file of tests/support/hostile_pdfs.CORPUS: what validation answers (accepted with
N pages, or the refusal), then for an accepted file what rendering gives; with the wall time,
the child's CPU seconds and its peak memory (its own VmHWM, or for a child killed at a limit
the upper bound wait4 gives). Last line: how many files behave
as the corpus expects, against the settings' limits (config/settings/base.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def _validate(data: bytes, stats: dict):
    """pdf_validate's checks, with the sandbox's figures kept (pdf_validate drops them)."""
    from grading import validation

    real = validation.sandbox_run

    def spy(*args, **kwargs):
        return real(*args, stats=stats, **kwargs)

    validation.sandbox_run = spy
    try:
        from django.core.files.uploadedfile import SimpleUploadedFile

        return validation.pdf_validate(SimpleUploadedFile("corpus.pdf", data))
    finally:
        validation.sandbox_run = real


def _figures(stats: dict) -> str:
    if not stats:
        return "wall_s=0.0 cpu_s=0.0 peak_mb=0 (bytes check, no child)"
    # The child's own peak when it could report it; for a killed child, wait4's maxrss (an
    # upper bound: never below this process's RSS when the child was spawned).
    peak = (
        f"peak_mb={stats['peak_rss_kb'] / 1024:.0f}"
        if stats.get("peak_rss_kb")
        else (f"peak_mb<={stats['maxrss_kb'] / 1024:.0f} (killed)")
    )
    return f"wall_s={stats['wall_s']:.1f} cpu_s={stats['cpu_s']:.1f} {peak}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.utils import translation

    from grading.engine.render import pdf_pages
    from grading.engine.sandbox import PdfRefused
    from grading.validation import PdfInvalid
    from tests.support.hostile_pdfs import CORPUS

    translation.activate("fr")
    print(
        f"limits memory_mb={settings.PDF_SANDBOX_MEMORY_MB} page_cpu_s={settings.PDF_SANDBOX_PAGE_CPU_S} "
        f"file_cpu_s={settings.PDF_SANDBOX_FILE_CPU_S} wall_s={settings.PDF_SANDBOX_WALL_S} "
        f"image_megapixels={settings.PDF_IMAGE_MAX_MEGAPIXELS} max_pages={settings.UPLOAD_MAX_PAGES}",
        flush=True,
    )
    cases = [case for case in CORPUS if not args.only or case.name in args.only]
    as_expected = 0
    for case in cases:
        data = case.make()
        stats: dict = {}
        try:
            info = _validate(data, stats)
        except PdfInvalid as refused:
            good = case.refused is not None and refused.message.startswith(case.refused)
            print(f"{case.name:32} {len(data):>9} B  refused  {_figures(stats)}  « {refused.message[:90]} »")
            as_expected += good
            continue
        print(f"{case.name:32} {len(data):>9} B  accepted pages={info.page_count}  {_figures(stats)}")
        good = case.refused is None and info.page_count == case.pages
        stats = {}
        with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
            tmp.write(data)
            tmp.flush()
            try:
                rendered = sum(1 for _page in pdf_pages(tmp.name, stats=stats))
            except PdfRefused as refused:
                good = good and case.render_failure is not None and refused.message.startswith(case.render_failure)
                print(f"{'':32} {'':>11}  render failed  {_figures(stats)}  « {refused.message[:90]} »")
            else:
                good = good and case.render_failure is None and rendered == case.pages
                print(f"{'':32} {'':>11}  rendered pages={rendered}  {_figures(stats)}")
        as_expected += good
        sys.stdout.flush()
    print(f"corpus files={len(cases)} as_expected={as_expected}")


if __name__ == "__main__":
    main()
