"""Renders a PDF to the engine's JPEGs in this (fresh) process; prints the render bench line.

python -m tests.bench.render file.pdf
"""

from __future__ import annotations

import sys
import time

from grading.engine.render import pdf_pages


def _peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over execve, so a process
    # spawned by a big parent would report the parent's peak.
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(path: str) -> None:
    started = time.perf_counter()
    pages = 0
    size = 0
    for page in pdf_pages(path):
        pages += 1
        size += len(page.jpeg)  # the bytes would be stored; only one page is held at a time
    elapsed = time.perf_counter() - started
    peak_mb = _peak_rss_mb()
    print(f"render pages={pages} peak_rss_mb={peak_mb:.0f} ms_per_page={elapsed * 1000 / pages:.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
