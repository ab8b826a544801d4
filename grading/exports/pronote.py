"""Marks ready for Pronote (issue 13): the class list's order, "NOM Prénom", the mark on the
scale the teacher chooses rounded to the exam's step with a decimal comma, Pronote's codes
Abs / Disp / N.Not, and the appréciation cut to Pronote's field at a word boundary.

As a file (CSV for French Excel, XLSX) and as the column the "copy" button puts on the
clipboard, one mark per line, for pasting into Pronote's grid of marks.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.translation import gettext as _

from ..models import Exam, feedback_shown
from ..selectors.review import Review, review_get
from ..selectors.roster import exam_sheet
from .tables import cell_text, fr_number, xlsx_append

SCALES = ("20", "bareme")
# The length the appréciation is cut to: CORRIGO_PRONOTE_APPRECIATION_MAX (settings, 250 by
# default — see there why it is a setting).
APPRECIATION_MAX = 250


@dataclass(frozen=True)
class PronoteLine:
    name: str
    mark: str  # "14,5", or Abs / Disp / N.Not, or "" when the copy is not graded yet
    appreciation: str


def mark_round(value: Decimal, *, step: Decimal) -> Decimal:
    """Rounded half up to the exam's step (0.25, 0.5, 1)."""
    if step <= 0:
        return value
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def appreciation_cut(text: str, *, limit: int = APPRECIATION_MAX) -> str:
    """One line, at most `limit` characters, cut at a word boundary with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    if " " in cut and not flat[limit - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def scale_max(*, scale: str, bareme_total: Decimal) -> Decimal:
    return bareme_total if scale == "bareme" else Decimal(20)


def pronote_lines(*, exam: Exam, scale: str = "20", review: Review | None = None) -> tuple[list[PronoteLine], Decimal]:
    """The lines in the class list's order, and the scale's maximum."""
    review = review or review_get(exam=exam)
    maximum = scale_max(scale=scale, bareme_total=review.bareme_total)
    lines = []
    for line in exam_sheet(exam=exam, review=review):
        row = line.row
        if line.code or row is None:
            lines.append(PronoteLine(line.name, line.code, ""))
            continue
        if row.total is None or not review.bareme_total:
            lines.append(PronoteLine(line.name, "", ""))
            continue
        mark = mark_round(row.total * maximum / review.bareme_total, step=exam.rounding_step)
        # The teacher's general appréciation; without one, the questions' feedback.
        feedback = row.copy.appreciation or " ".join(
            feedback_shown(grade) for grade in row.cells if grade is not None and feedback_shown(grade)
        )
        cut = appreciation_cut(feedback, limit=settings.CORRIGO_PRONOTE_APPRECIATION_MAX)
        lines.append(PronoteLine(line.name, fr_number(min(mark, maximum)), cut))
    return lines, maximum


def _headers(maximum: Decimal) -> list[str]:
    return [_("Élève"), _("Note /%(max)s") % {"max": fr_number(maximum)}, _("Appréciation")]


def pronote_csv(*, exam: Exam, scale: str = "20") -> bytes:
    """UTF-8 with BOM, `;`, CRLF: opens as is in French Excel, whose columns paste into Pronote."""
    lines, maximum = pronote_lines(exam=exam, scale=scale)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(_headers(maximum))
    for line in lines:
        writer.writerow([cell_text(line.name), line.mark, cell_text(line.appreciation)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def pronote_xlsx(*, exam: Exam, scale: str = "20") -> bytes:
    """Marks as text cells ("14,5", "Abs"): Pronote reads them as typed, whatever Excel's locale."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    lines, maximum = pronote_lines(exam=exam, scale=scale)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Pronote"
    xlsx_append(sheet, _headers(maximum))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for line in lines:
        xlsx_append(sheet, [line.name, line.mark, line.appreciation])
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["C"].width = 60
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def pronote_column(*, exam: Exam, scale: str = "20", review: Review | None = None) -> str:
    """The marks alone, one per line in the class list's order: what the copy button puts on
    the clipboard for pasting into Pronote's column of marks."""
    lines, _maximum = pronote_lines(exam=exam, scale=scale, review=review)
    return "\n".join(line.mark for line in lines)
