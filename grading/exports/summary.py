"""The class summary as one A4 page to discuss in class (reportlab): the class's figures, each
question's average with a bar, the questions it failed most, and the teacher's summary text.

No student's name or mark: it may be projected or handed out. Type ≥ 9 pt; greys and the
overlay's deep red, legible printed in black and white. Long texts are shortened so the page
stays one page (the teacher's text is cut at a line with an ellipsis).
"""

from __future__ import annotations

import io
from decimal import Decimal

from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from core.numbers import average_text

from ..models import Exam
from ..selectors.summary import ClassResults, class_results
from .overlay import A4, BOLD, INK, MARK, REGULAR, _fonts
from .tables import fr_number

MARGIN = 48.0
GREY = (0.45, 0.45, 0.48)
BAR_FILL = (0.55, 0.55, 0.58)  # mid grey: visible on any printer, text stays readable beside it
SIZE = 10.0
ROW_MIN = 14.0


def _points(value: Decimal, language: str) -> str:
    text = fr_number(value)
    return text.replace(",", ".") if language == "en" else text


class _Page:
    def __init__(self, canvas: Canvas):
        self.canvas = canvas
        self.y = A4[1] - MARGIN
        self.width = A4[0] - 2 * MARGIN

    def line(self, text: str, *, font: str = REGULAR, size: float = SIZE, colour=INK, indent: float = 0.0) -> None:
        for part in simpleSplit(text, font, size, self.width - indent) or [""]:
            self.y -= size * 1.3
            self.canvas.setFont(font, size)
            self.canvas.setFillColorRGB(*colour)
            self.canvas.drawString(MARGIN + indent, self.y, part)

    def space(self, height: float) -> None:
        self.y -= height


def _questions(page: _Page, results: ClassResults, language: str, room: float) -> None:
    """One row per question: number and label, a bar of its average share, the average, how
    many students under half. The rows share `room` (at least ROW_MIN each)."""
    canvas = page.canvas
    failed = {q.number for q in results.failed_most}
    count = max(len(results.questions), 1)
    row = max(ROW_MIN, min(22.0, room / count))
    size = 9.0 if row < 18 else SIZE
    label_width, bar_width = page.width * 0.46, page.width * 0.24
    bar_x = MARGIN + label_width + 8
    for result in results.questions:
        page.y -= row
        font = BOLD if result.number in failed else REGULAR
        label = f"Q{result.number}. {result.label}"
        while pdfmetrics.stringWidth(label, font, size) > label_width and len(label) > 4:
            label = label[:-2].rstrip() + "…"
        canvas.setFont(font, size)
        canvas.setFillColorRGB(*INK)
        canvas.drawString(MARGIN, page.y + 3, label)
        share = result.share
        canvas.setStrokeColorRGB(*INK)
        canvas.setLineWidth(0.6)
        canvas.rect(bar_x, page.y + 1, bar_width, row - 6, stroke=1, fill=0)
        if share is not None:
            canvas.setFillColorRGB(*(MARK if result.number in failed else BAR_FILL))
            canvas.rect(bar_x, page.y + 1, bar_width * max(0.0, min(1.0, share)), row - 6, stroke=0, fill=1)
        canvas.setFillColorRGB(*INK)
        canvas.setFont(font, size)
        average = _("%(average)s / %(max)s") % {
            "average": average_text(result.average),
            "max": _points(result.maximum, language),
        }
        canvas.drawString(bar_x + bar_width + 8, page.y + 3, average)
        under = _("%(count)s < moitié") % {"count": result.under_half}
        canvas.drawRightString(MARGIN + page.width, page.y + 3, under)


def class_summary_pdf(*, exam: Exam) -> bytes:
    """The one-page PDF of the class summary, in the exam's language."""
    _fonts()
    results = class_results(exam=exam)
    language = exam.language
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, pageCompression=1)
    with translation.override(language):
        canvas.setTitle(_("Bilan de la classe — %(title)s") % {"title": exam.title})
        page = _Page(canvas)
        page.line(_("Bilan de la classe"), font=BOLD, size=18)
        page.line(exam.title, size=13)
        details = [part for part in (exam.subject, exam.level) if part]
        details.append(formats.date_format(timezone.localdate(), "DATE_FORMAT"))
        page.line(" · ".join(details), colour=GREY)
        page.space(8)
        figures = ngettext(
            "%(count)s copie corrigée · moyenne %(average)s / %(max)s · médiane %(median)s",
            "%(count)s copies corrigées · moyenne %(average)s / %(max)s · médiane %(median)s",
            results.graded,
        ) % {
            "count": results.graded,
            "average": average_text(results.average),
            "max": _points(results.bareme_total, language),
            "median": average_text(results.median),
        }
        page.line(figures, font=BOLD, size=11)
        page.space(10)

        page.line(_("Réussite par question"), font=BOLD, size=13)
        page.line(_("Moyenne de la classe et nombre d'élèves sous la moitié des points."), size=9, colour=GREY)
        text = results.summary.text if results.summary else ""
        text_lines: list[str] = []
        for paragraph in text.splitlines():
            text_lines += simpleSplit(paragraph, REGULAR, SIZE, page.width) or [""]
        # What the summary text needs (up to half the page), the rest for the questions.
        text_room = min(len(text_lines) * SIZE * 1.3 + 40, A4[1] / 2)
        failed_room = 30 + 14 * len(results.failed_most)
        _questions(page, results, language, page.y - MARGIN - text_room - failed_room - 30)
        page.space(14)

        if results.failed_most:
            page.line(_("Les questions les moins réussies"), font=BOLD, size=13)
            for result in results.failed_most:
                page.line(
                    _("Q%(number)s. %(label)s — %(percent)s %% des points en moyenne")
                    % {"number": result.number, "label": result.label, "percent": result.percent},
                    colour=MARK,
                    indent=8,
                )
            page.space(10)

        if text_lines:
            page.line(_("À retenir"), font=BOLD, size=13)
            available = int((page.y - MARGIN) // (SIZE * 1.3))
            if len(text_lines) > available:
                text_lines = text_lines[: max(available - 1, 0)] + ["…"]
            for line in text_lines:
                bold = bool(line) and not line.startswith(("-", "•", " "))
                page.line(line, font=BOLD if bold else REGULAR, size=SIZE)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()
