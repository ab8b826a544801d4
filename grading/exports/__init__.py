"""Exports of an exam's grades: tables (CSV, XLSX, JSON), Pronote-ready marks, annotated PDFs,
the class summary's one-page PDF.

The names below load their module on first use (PEP 562): openpyxl, pypdf and reportlab weigh
about 70 MB together, and a grading worker, which never exports, should not carry them
(`make bench` prints the export worker's memory).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULES = {
    "class_summary_pdf": "summary",
    "PRONOTE_SCALES": "pronote",
    "copy_annotated_filename": "annotated",
    "copy_annotated_pdf": "annotated",
    "copy_notes": "annotated",
    "copy_summary": "annotated",
    "exam_annotated_zip_write": "annotated",
    "exam_csv": "tables",
    "exam_json": "tables",
    "exam_json_bytes": "tables",
    "exam_xlsx": "tables",
    "pronote_column": "pronote",
    "pronote_csv": "pronote",
    "pronote_xlsx": "pronote",
}
_RENAMED = {"PRONOTE_SCALES": "SCALES"}

__all__ = [
    "class_summary_pdf",
    "PRONOTE_SCALES",
    "copy_annotated_filename",
    "copy_annotated_pdf",
    "copy_notes",
    "copy_summary",
    "exam_annotated_zip_write",
    "exam_csv",
    "exam_json",
    "exam_json_bytes",
    "exam_xlsx",
    "pronote_column",
    "pronote_csv",
    "pronote_xlsx",
]

if TYPE_CHECKING:
    from .annotated import (
        copy_annotated_filename,
        copy_annotated_pdf,
        copy_notes,
        copy_summary,
        exam_annotated_zip_write,
    )
    from .pronote import SCALES as PRONOTE_SCALES
    from .pronote import pronote_column, pronote_csv, pronote_xlsx
    from .summary import class_summary_pdf
    from .tables import exam_csv, exam_json, exam_json_bytes, exam_xlsx


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULES[name]}", __name__), _RENAMED.get(name, name))
    globals()[name] = value
    return value
