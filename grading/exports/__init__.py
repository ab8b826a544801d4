"""Exports of an exam's grades: tables (CSV, XLSX, JSON), Pronote-ready marks, annotated PDFs,
the class summary's one-page PDF."""

from __future__ import annotations

from .annotated import copy_annotated_filename, copy_annotated_pdf, copy_notes, copy_summary, exam_annotated_zip_write
from .pronote import SCALES as PRONOTE_SCALES
from .pronote import pronote_column, pronote_csv, pronote_xlsx
from .summary import class_summary_pdf
from .tables import exam_csv, exam_json, exam_json_bytes, exam_xlsx

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
