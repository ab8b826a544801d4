"""Exports of an exam's grades: tables (CSV, XLSX, JSON) and annotated PDFs."""

from __future__ import annotations

from .annotated import copy_annotated_filename, copy_annotated_pdf, exam_annotated_zip
from .tables import exam_csv, exam_json, exam_json_bytes, exam_xlsx

__all__ = [
    "copy_annotated_filename",
    "copy_annotated_pdf",
    "exam_annotated_zip",
    "exam_csv",
    "exam_json",
    "exam_json_bytes",
    "exam_xlsx",
]
