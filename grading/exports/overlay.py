"""The annotated PDF's overlay, drawn with reportlab: the summary page(s), and one page per
copy page with each question's note in the right margin next to its answer.

Notes are drawn in the page as shown (its /Rotate applied), on a page of the original's own,
unrotated size, so the merge (grading.engine.render.pdf_overlays) lays it exactly over the scan.
Type ≥ 9 pt; near-black and a deep red that stay legible printed in black and white.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _
from pypdf import PdfReader, PdfWriter
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ..engine.render import PageGeometry

A4 = (595.28, 841.89)
COMMENT_LINES = 5
MARK_SIZE = 11  # pt: the points, bold
TEXT_SIZE = 9.5  # pt: comments (legible printed, ≥ 9 pt)
# Dark enough to stay legible once printed in black and white: near-black text, a deep red
# (about 20 % luminance) for the points and the frames.
INK = (0.08, 0.08, 0.1)
MARK = (0.62, 0.0, 0.1)
EDGE = 6.0  # pt between a note and the page's edge
GAP = 4.0  # pt between two notes
PAD = 4.0  # pt inside a note's frame

_FONT_FILES = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    # reportlab ships Bitstream Vera (DejaVu's ancestor): no system font needed.
    (
        str(Path(pdfmetrics.__file__).parent.parent / "fonts" / "Vera.ttf"),
        str(Path(pdfmetrics.__file__).parent.parent / "fonts" / "VeraBd.ttf"),
    ),
)
REGULAR, BOLD = "CorrigoSans", "CorrigoSans-Bold"


def _fonts() -> None:
    """Embedded TrueType fonts (accents and most symbols print, and read back as text)."""
    if REGULAR in pdfmetrics.getRegisteredFontNames():
        return
    for regular, bold in _FONT_FILES:
        if Path(regular).is_file() and Path(bold).is_file():
            pdfmetrics.registerFont(TTFont(REGULAR, regular))
            pdfmetrics.registerFont(TTFont(BOLD, bold))
            return
    raise RuntimeError("no TrueType font for the annotated PDFs")


@dataclass
class Note:
    """One question as printed: its points and the teacher-facing feedback, and where."""

    number: int
    label: str
    mark: str  # "2,5 / 4", or "—" when the question has no grade
    comment: str
    page: int | None = None  # 1-based in the copy
    top: float | None = None  # 0 top … 1 bottom
    bottom: float | None = None


@dataclass(frozen=True)
class Summary:
    title: str
    student: str
    total: str  # "Total : 11,5 / 15"
    twenty: str  # "Note : 15,33 / 20" ("" when the barème is out of 20 or nothing is graded)
    appreciation: str
    link: str = ""  # the student's private link, printed as a QR code when there is one


def _note_lines(note: Note, width: float) -> list[str]:
    inner = width - 2 * PAD
    lines = simpleSplit(note.comment, REGULAR, TEXT_SIZE, inner) if note.comment else []
    if len(lines) > COMMENT_LINES:
        last = lines[COMMENT_LINES - 1]
        while last and pdfmetrics.stringWidth(last + "…", REGULAR, TEXT_SIZE) > inner:
            last = last[:-1]
        lines = [*lines[: COMMENT_LINES - 1], last.rstrip() + "…"]
    return lines


def _note_height(lines: list[str]) -> float:
    return 2 * PAD + MARK_SIZE * 1.2 + len(lines) * TEXT_SIZE * 1.25


def _free_slot(taken: list[tuple[float, float]], want: float, height: float, limit: float) -> float | None:
    """The first top ≥ `want` where a note of `height` fits between EDGE and `limit` without
    touching another (`taken`: (top, bottom) from the page's top edge)."""
    top = max(want, EDGE)
    for start, end in sorted(taken):
        if top + height + GAP <= start:
            break
        top = max(top, end + GAP)
    return top if top + height <= limit else None


def _draw_note(
    canvas: Canvas, note: Note, lines: list[str], *, x: float, top: float, width: float, shown_height: float
):
    height = _note_height(lines)
    y = shown_height - top - height
    canvas.saveState()
    canvas.setFillColorRGB(1, 1, 1, alpha=0.88)
    canvas.setStrokeColorRGB(*MARK)
    canvas.setLineWidth(1.2)
    canvas.rect(x, y, width, height, stroke=1, fill=1)
    canvas.setFillColorRGB(*MARK)
    canvas.setFont(BOLD, MARK_SIZE)
    baseline = shown_height - top - PAD - MARK_SIZE
    canvas.drawString(x + PAD, baseline, _("%(label)s : %(text)s") % {"label": f"Q{note.number}", "text": note.mark})
    canvas.setFillColorRGB(*INK)
    canvas.setFont(REGULAR, TEXT_SIZE)
    for line in lines:
        baseline -= TEXT_SIZE * 1.25
        canvas.drawString(x + PAD, baseline, line)
    canvas.restoreState()


def _draw_page_notes(canvas: Canvas, notes: list[Note], width: float, height: float) -> list[Note]:
    """The page's notes in its right margin, each at the top of its answer's span (or where
    there is room when the span is unknown); returns those that did not fit."""
    column = min(max(width * 0.3, 150.0), 240.0, width - 2 * EDGE)
    if column < 80:
        return notes
    x = width - EDGE - column
    taken: list[tuple[float, float]] = []
    left: list[Note] = []
    # Answers with a span first, top to bottom, then the others wherever room is left.
    spanned = sorted((n for n in notes if n.top is not None), key=lambda n: (n.top, n.number))
    for note in [*spanned, *(n for n in notes if n.top is None)]:
        lines = _note_lines(note, column)
        size = _note_height(lines)
        want = note.top * height if note.top is not None else EDGE
        top = _free_slot(taken, want, size, height - EDGE)
        if top is None and note.top is not None:
            top = _free_slot(taken, EDGE, size, height - EDGE)  # above its answer rather than nowhere
        if top is None:
            left.append(note)
            continue
        taken.append((top, top + size))
        if note.top is not None and note.bottom is not None:
            canvas.saveState()
            canvas.setStrokeColorRGB(*MARK)
            canvas.setLineWidth(2)
            span_top, span_bottom = note.top * height, max(note.bottom * height, note.top * height + 6)
            canvas.line(width - 2.5, height - span_top, width - 2.5, height - min(span_bottom, height))
            canvas.restoreState()
        _draw_note(canvas, note, lines, x=x, top=top, width=column, shown_height=height)
    return left


def _to_shown(canvas: Canvas, geometry: PageGeometry) -> None:
    """From here on, the canvas draws in the page as shown (x right, y up, after /Rotate)."""
    width, height = geometry.box[2] - geometry.box[0], geometry.box[3] - geometry.box[1]
    canvas.transform(
        *{
            0: (1, 0, 0, 1, 0, 0),
            90: (0, 1, -1, 0, width, 0),
            180: (-1, 0, 0, -1, width, height),
            270: (0, -1, 1, 0, 0, height),
        }[geometry.rotate]
    )


def _summary_size(shown: tuple[float, float] | None) -> tuple[float, float]:
    """The first page's size as shown when it is a sheet of paper; A4 otherwise."""
    if shown and min(shown) >= 420 and max(shown) <= 1700:
        return shown
    return A4


class _Flow:
    """Lines down summary pages, a new page when one is full."""

    def __init__(self, canvas: Canvas, size: tuple[float, float]):
        self.canvas, self.size = canvas, size
        self.margin = 50.0
        self.y = size[1] - self.margin
        self.pages = 1
        self.right = 0.0  # kept free on the right while the first lines run beside the QR code
        canvas.setPageSize(size)

    @property
    def width(self) -> float:
        beside = self.right if self.pages == 1 and self.y > self.size[1] - self.margin - QR_SIZE - 20 else 0.0
        return self.size[0] - 2 * self.margin - beside

    def room(self, height: float) -> None:
        if self.y - height < self.margin:
            self.canvas.showPage()
            self.canvas.setPageSize(self.size)
            self.pages += 1
            self.y = self.size[1] - self.margin

    def text(self, text: str, *, font: str = REGULAR, size: float = TEXT_SIZE + 1, colour=INK, indent: float = 0):
        for line in simpleSplit(text, font, size, self.width - indent) or [""]:
            self.room(size * 1.3)
            self.y -= size * 1.3
            self.canvas.setFont(font, size)
            self.canvas.setFillColorRGB(*colour)
            self.canvas.drawString(self.margin + indent, self.y, line)

    def row(self, label: str, mark: str) -> None:
        size = TEXT_SIZE + 1.5
        mark_width = pdfmetrics.stringWidth(mark, BOLD, size + 1)
        lines = simpleSplit(label, REGULAR, size, self.width - mark_width - 16) or [""]
        self.room(len(lines) * size * 1.3 + 4)
        self.y -= 4
        top = self.y
        for line in lines:
            self.y -= size * 1.3
            self.canvas.setFont(REGULAR, size)
            self.canvas.setFillColorRGB(*INK)
            self.canvas.drawString(self.margin, self.y, line)
        self.canvas.setFont(BOLD, size + 1)
        self.canvas.setFillColorRGB(*MARK)
        self.canvas.drawRightString(self.margin + self.width, top - size * 1.3, mark)

    def space(self, height: float) -> None:
        self.y -= height


QR_SIZE = 86.0  # pt (3 cm): a phone reads it from a printed page at arm's length


def _draw_link_qr(canvas: Canvas, size: tuple[float, float], link: str) -> float:
    """The student's private link as a QR code in the summary page's top right corner, with a
    caption; returns the width it takes from the text beside it."""
    widget = QrCodeWidget(link, barLevel="M", barBorder=0)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0])
    drawing.add(widget)
    margin = 50.0
    left, bottom = size[0] - margin - QR_SIZE, size[1] - margin - QR_SIZE
    renderPDF.draw(drawing, canvas, left, bottom)
    canvas.setFont(REGULAR, TEXT_SIZE)
    canvas.setFillColorRGB(*INK)
    canvas.drawCentredString(left + QR_SIZE / 2, bottom - TEXT_SIZE * 1.4, _("Ta copie en ligne"))
    return QR_SIZE + 12


def _draw_summary(canvas: Canvas, size: tuple[float, float], summary: Summary, notes: list[Note], unplaced) -> int:
    """The summary page(s); returns how many."""
    flow = _Flow(canvas, size)
    if summary.link:
        flow.right = _draw_link_qr(canvas, size, summary.link)
    flow.text(summary.title, font=REGULAR, size=12)
    flow.space(4)
    flow.text(summary.student, font=BOLD, size=18)
    flow.space(8)
    flow.text(summary.total, font=BOLD, size=15, colour=MARK)
    if summary.twenty:
        flow.text(summary.twenty, font=BOLD, size=13, colour=MARK)
    flow.space(10)
    # The copy's general appréciation, as the teacher wrote it (see copy_appreciation).
    if summary.appreciation:
        flow.text(_("Appréciation générale"), font=BOLD, size=12)
        flow.text(summary.appreciation, size=TEXT_SIZE + 1.5)
        flow.space(10)
    flow.text(_("Détail par question"), font=BOLD, size=12)
    for note in notes:
        flow.row(f"Q{note.number}. {note.label}", note.mark)
        if note.number in unplaced and note.comment:
            flow.text(note.comment, indent=14)
    canvas.showPage()
    return flow.pages


def overlay_pdf(
    summary: Summary, notes: list[Note], shown: list[tuple[float, float]], geometry: list[PageGeometry] | None
) -> tuple[bytes, int]:
    """The overlay: summary page(s) first, then one page per copy page (in the page's own,
    unrotated space when `geometry` is given). Notes that fit nowhere go to the summary, so
    the copy pages are drawn first, on a canvas of their own."""
    _fonts()
    pages_buffer = io.BytesIO()
    canvas = Canvas(pages_buffer, pageCompression=1)
    unplaced: set[int] = set()
    for index, (width, height) in enumerate(shown, start=1):
        if geometry is not None:
            box = geometry[index - 1].box
            canvas.setPageSize((box[2] - box[0], box[3] - box[1]))
            _to_shown(canvas, geometry[index - 1])
        else:
            canvas.setPageSize((width, height))
        on_page = [n for n in notes if n.page == index and n.mark != "—"]
        unplaced.update(n.number for n in _draw_page_notes(canvas, on_page, width, height))
        canvas.showPage()
    unplaced.update(n.number for n in notes if n.page is None or n.page > len(shown))
    canvas.save()

    summary_buffer = io.BytesIO()
    summary_canvas = Canvas(summary_buffer, pageCompression=1)
    prefix = _draw_summary(summary_canvas, _summary_size(shown[0] if shown else None), summary, notes, unplaced)
    summary_canvas.save()
    return pdf_joined(summary_buffer.getvalue(), pages_buffer.getvalue() if shown else b""), prefix


def pdf_joined(first: bytes, second: bytes) -> bytes:
    """Two PDFs of our own drawing, one after the other (pypdf, outside the sandbox: trusted)."""
    writer = PdfWriter()
    for data in (first, second):
        if data:
            for page in PdfReader(io.BytesIO(data)).pages:
                writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
