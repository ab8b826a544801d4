"""The annotated PDFs' zip of a large class, built by a real Celery worker as in production.

A class of COPIES copies scanned as one PDF (PAGES pages each, 150 dpi JPEG pages, the copies
cut from it by page range) is graded through the engine (in-process, eager tasks, the scripted
server's demo answers); then the teacher's export is asked for through the service and a
worker subprocess (threads pool, one thread) builds it.

Prints
- `export_zip_300 s= peak_rss_mb= queries= base_rss_mb= zip_mb=`: s from the export's
  creation to its file stored (the rows' timestamps); peak_rss_mb the worker process's VmHWM
  at the end (its whole life: Django, Celery and the export; base_rss_mb is its VmHWM once
  warmed up, before the export); queries the export task's own database queries, counted in
  the worker (tests/support/tasks.py with CORRIGO_COUNT_QUERIES=1). The PDF sandbox's children
  run under their own memory limit and are not counted in the worker's figure.
- `export_tables_300 csv_ms= xlsx_ms= json_ms= pronote_ms=`: the tables of the same class built
  in this process, which sets where they stop being built inside the request
  (CORRIGO_EXPORT_SYNC_MAX_COPIES).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

COPIES = 300
PAGES = 2


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _class_scanned(exam, *, pages: int) -> None:
    """One class PDF for the exam's copies, each copy its own page range."""
    from django.core.files.base import ContentFile

    from grading.models import Copy, SourceFile
    from tests.support.pdfs import scanned_pdf

    copies = list(exam.copies.order_by("pk"))
    source = SourceFile.objects.create(exam=exam, original_name="classe.pdf", page_count=len(copies) * pages)
    source.file.save("classe.pdf", ContentFile(scanned_pdf(len(copies) * pages)), save=True)
    for number, copy in enumerate(copies):
        copy.source, copy.first_page, copy.last_page = source, number * pages + 1, (number + 1) * pages
    Copy.objects.bulk_update(copies, ["source", "first_page", "last_page"])


def _timed_ms(build) -> float:
    started = time.perf_counter()
    build()
    return (time.perf_counter() - started) * 1000


def bench_export(server, tmp: Path, copies: int = COPIES, pages: int = PAGES) -> list[str]:
    from django.conf import settings
    from django.db import transaction

    from grading import exports, services
    from grading.models import ExportFile
    from tests.bench.grid import _graded_exam
    from tests.grading.conftest import roles_settings
    from tests.support.deadlines import wait_until
    from tests.support.servers import celery_worker_start

    settings.CORRIGO_LLM = roles_settings(server)
    server.latency = 0.0
    teacher, exam = _graded_exam(copies=copies, questions=4)
    _class_scanned(exam, pages=pages)

    tables = {
        "csv": lambda: exports.exam_csv(exam=exam),
        "xlsx": lambda: exports.exam_xlsx(exam=exam),
        "json": lambda: exports.exam_json_bytes(exam=exam),
        "pronote": lambda: exports.pronote_xlsx(exam=exam),
    }
    timings = " ".join(f"{name}_ms={_timed_ms(build):.0f}" for name, build in tables.items())

    # On the render queue alone, as production's render process (config.workers): a worker that
    # also grades imports litellm (≈ 200 MB) as soon as it is ready.
    worker = celery_worker_start(
        tmp, name="export", concurrency=1, queues=[settings.CORRIGO_RENDER_QUEUE], CORRIGO_COUNT_QUERIES="1"
    )
    try:
        # Warm-up: the worker's first task imports what an export needs (openpyxl, reportlab).
        with transaction.atomic():
            warm = services.export_start(exam=exam, user=teacher, fmt="xlsx")
        wait_until(lambda: ExportFile.objects.get(pk=warm.pk).finished, base=120, what="the warm-up export")
        base_rss = _vm_hwm_mb(worker.process.pid)
        with transaction.atomic():
            export = services.export_start(exam=exam, user=teacher, fmt="zip")
        wait_until(lambda: ExportFile.objects.get(pk=export.pk).finished, base=1800, what="the zip", interval=0.5)
        peak_rss = _vm_hwm_mb(worker.process.pid)
    finally:
        worker.stop()
    export.refresh_from_db()
    if export.status != ExportFile.Status.DONE:
        raise RuntimeError(f"export {export.status}: {export.failure_reason}\n{worker.log()[-3000:]}")
    counts = re.findall(r"task_queries grading\.tasks\.export_build_task (\d+)", worker.log())
    seconds = (export.finished_at - export.created_at).total_seconds()
    return [
        f"export_zip_{copies} s={seconds:.1f} peak_rss_mb={peak_rss:.0f} queries={counts[-1] if counts else '?'}"
        f" base_rss_mb={base_rss:.0f} zip_mb={export.size_bytes / 1e6:.0f} pages={copies * pages}",
        f"export_tables_{copies} {timings}",
    ]
