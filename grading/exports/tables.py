"""Exports of an exam's grades: CSV (French Excel), XLSX, JSON with the engine's audit.

All read through selectors.review_get, so every format shows the same numbers as the grid.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from usage.selectors import usage_exam_cost_json

from ..models import Exam, GradeEdit, ModelAnswer, feedback_shown
from ..selectors.agreement import exam_agreement
from ..selectors.review import Review, ReviewRow, review_get
from ..selectors.roster import SheetLine, exam_sheet

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

# OWASP's CSV injection guidance: a cell starting with one of these is read as a formula
# (or a DDE call) by Excel, LibreOffice and Google Sheets.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# The control characters an XLSX cell cannot hold (openpyxl raises on them: the same set as its
# ILLEGAL_CHARACTERS_RE, kept here so the CSV path does not import openpyxl).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def cell_text(value: str) -> str:
    """Text for a spreadsheet cell: a leading apostrophe keeps a would-be formula inert.

    Only for text (names, labels, feedback): numbers are written as numbers, so a negative
    value stays a number.
    """
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def xlsx_append(sheet: Worksheet, values: list[Any]) -> None:
    """Appends a row; text is neutralised and typed as a string (openpyxl would otherwise
    store a value starting with '=' as a formula)."""
    sheet.append([cell_text(value) if isinstance(value, str) else value for value in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


def on_twenty(total: Decimal | None, bareme_total: Decimal) -> Decimal | None:
    if total is None or not bareme_total:
        return None
    return (total * 20 / bareme_total).quantize(Decimal("0.01"))


def fr_number(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}".replace(".", ",")


def _french() -> bool:
    return (get_language() or "").startswith("fr")


def reader_number(value: Decimal | None) -> str:
    """A number as the reader's language writes it: « 12,5 » in French, "12.5" in English."""
    text = fr_number(value)
    return text if _french() else text.replace(",", ".")


def _headers(review: Review) -> list[str]:
    questions = [f"Q{n} {q.label} (/{reader_number(q.max_points)})" for n, q in enumerate(review.questions, start=1)]
    return [
        _("Élève"),
        *questions,
        _("Total (/%(max)s)") % {"max": reader_number(review.bareme_total)},
        _("Note /20"),
        _("Appréciation"),
    ]


def _feedback(row: ReviewRow) -> str:
    """The teacher's text: the general appréciation, then each question's feedback."""
    parts = [row.copy.appreciation] if row.copy.appreciation else []
    for n, grade in enumerate(row.cells, start=1):
        if grade is not None and (feedback := feedback_shown(grade)):
            parts.append(_("%(label)s : %(text)s") % {"label": f"Q{n}", "text": feedback})
    return "\n".join(parts)


def _line_values(line: SheetLine, review: Review, number: Callable[[Decimal | None], Any]) -> list:
    """One line of a table export: the name, each question, total, /20, appréciation. A student
    absent, excused or not graded has Pronote's code (Abs, Disp, N.Not) for total and /20."""
    row = line.row
    cells = [number(g.points) if g is not None else None for g in row.cells] if row else [None] * len(review.questions)
    if line.code or row is None:
        return [line.name, *cells, line.code, line.code, ""]
    return [line.name, *cells, number(row.total), number(on_twenty(row.total, review.bareme_total)), _feedback(row)]


def exam_csv(*, exam: Exam) -> bytes:
    """UTF-8 with BOM; for a French reader `;` separators and decimal commas (what French Excel
    opens as is), for an English one `,` and decimal points. In the class list's order when the
    exam has a class, absent students included."""
    review = review_get(exam=exam)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if _french() else ",", lineterminator="\r\n")
    writer.writerow([cell_text(header) for header in _headers(review)])
    for line in exam_sheet(exam=exam, review=review):
        values = _line_values(line, review, reader_number)
        writer.writerow(
            [cell_text(value) if isinstance(value, str) else "" if value is None else value for value in values]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _float(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def exam_xlsx(*, exam: Exam) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    review = review_get(exam=exam)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Notes")[:31]
    xlsx_append(sheet, _headers(review))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in exam_sheet(exam=exam, review=review):
        xlsx_append(sheet, _line_values(line, review, _float))
        sheet.cell(row=sheet.max_row, column=sheet.max_column).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 28
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def exam_json(*, exam: Exam) -> dict[str, Any]:
    """Everything about the grades, the engine's audit and every teacher edit."""
    review = review_get(exam=exam)
    edits: dict[int, list[dict]] = {}
    for edit in GradeEdit.objects.filter(grade__copy__exam=exam).select_related("user").order_by("created_at", "id"):
        edits.setdefault(edit.grade_id, []).append(
            {
                "user": edit.user.email if edit.user else None,
                "at": edit.created_at.isoformat(),
                "field": edit.field,
                "before": edit.before,
                "after": edit.after,
            }
        )
    answers: dict[int, list[dict]] = {}
    for answer in ModelAnswer.objects.filter(copy__exam=exam).order_by("created_at", "id"):
        decoded = answer.get_grades()
        answers.setdefault(answer.copy_id, []).append(
            {
                "attempt": answer.attempt,
                "phase": answer.phase,
                "slot": answer.slot,
                "repair": answer.repair,
                "model": answer.model,
                "grades": decoded.model_dump() if decoded is not None else None,
                "error": answer.error_text,
            }
        )
    questions = [
        {"id": q.pk, "order": n, "label": q.label, "max_points": str(q.max_points), "criteria": q.criteria}
        for n, q in enumerate(review.questions, start=1)
    ]
    copies = []
    for row in review.rows:
        grades = []
        for question, grade in zip(review.questions, row.cells, strict=True):
            if grade is None:
                continue
            grades.append(
                {
                    "question": question.pk,
                    "points": str(grade.points),
                    "ai_points": str(grade.ai_points),
                    "max_points": str(grade.max_points),
                    "edited": grade.edited,
                    "reading": grade.reading,
                    "reasoning": grade.reasoning,
                    "feedback": grade.feedback,
                    "ai_feedback": grade.ai_feedback,
                    # The engine's text beside points the teacher changed: left out of the
                    # tables and annotated PDFs until edited or kept.
                    "feedback_stale": getattr(grade, "feedback_stale", False),
                    "confidence": grade.confidence,
                    "disagreement": grade.disagreement,
                    "resolution": grade.resolution,
                    "engine_audit": grade.audit,
                    "edits": edits.get(grade.pk, []),
                }
            )
        copies.append(
            {
                "id": row.copy.pk,
                "student": row.copy.student_label,
                "status": row.copy.status,
                "reviewed": row.copy.reviewed,
                "flagged_manipulation": row.copy.flagged_manipulation,
                "manipulation_reason": row.copy.manipulation_text,
                "appreciation": row.copy.appreciation,
                "appreciation_ai": row.copy.appreciation_ai,
                "appreciation_stale": row.copy.appreciation_stale,
                "total": str(row.total) if row.total is not None else None,
                "on_twenty": str(mark) if (mark := on_twenty(row.total, review.bareme_total)) is not None else None,
                "grades": grades,
                "model_answers": answers.get(row.copy.pk, []),
            }
        )
    return {
        "exam": {
            "id": exam.pk,
            "title": exam.title,
            "subject": exam.subject,
            "level": exam.level,
            "language": exam.language,
            "mode": exam.mode,
            "rounding_step": str(exam.rounding_step),
            "bareme_total": str(review.bareme_total),
            "files_purged_at": exam.files_purged_at.isoformat() if exam.files_purged_at else None,
        },
        "exported_at": timezone.now().isoformat(),
        "cost": usage_exam_cost_json(exam_id=exam.pk),
        # « Accord IA / enseignant »: AI grades left as they were, the mean gap of those changed.
        "agreement": exam_agreement(exam=exam).as_json(),
        "questions": questions,
        "copies": copies,
    }


def exam_json_bytes(*, exam: Exam) -> bytes:
    return json.dumps(exam_json(exam=exam), ensure_ascii=False, indent=2).encode("utf-8")
