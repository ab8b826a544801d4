"""Annotated PDFs: each copy's pages with the points and a short feedback per question in a
right margin, one copy or the whole class in a ZIP. They need the page images: once the
students' files are purged (services.retention), FilesPurged says so."""

from __future__ import annotations

import io
import textwrap
import zipfile

from django.utils.text import slugify
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont

from ..engine.render import local_copy, pdf_pages
from ..engine.sandbox import PdfRefused
from ..errors import FilesPurged
from ..models import Copy, Exam
from ..selectors.review import Review, ReviewRow, review_get
from .tables import fr_number, on_twenty

ANNOTATION_MARGIN = 0.42  # of the page width, added on the right
FEEDBACK_CHARS = 140
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT_PATH, size)
    except OSError:  # DejaVu missing (a slim image): Pillow's own font
        return ImageFont.load_default(size=size)


def _page_images(copy: Copy) -> list[Image.Image]:
    """The copy's pages as images: the rendered ones, or rendered now from the source PDF."""
    if copy.exam.files_purged_at is not None:
        raise FilesPurged(copy.exam.files_purged_at)
    pages = list(copy.pages.all())
    try:
        if pages:
            images = []
            for page in pages:
                with page.image.open("rb") as handle:
                    images.append(Image.open(io.BytesIO(handle.read())).convert("RGB"))
            return images
        if copy.source is None or not copy.source.file:
            return []
        # Rendered in the PDF sandbox like every other page; a file it refuses gives no image.
        with local_copy(copy.source.file.name, storage=copy.source.file.storage) as path:
            rendered = pdf_pages(path, first=copy.first_page, last=copy.last_page)
            return [Image.open(io.BytesIO(page.jpeg)).convert("RGB") for page in rendered]
    except FileNotFoundError:
        # Deleted by a purge that has not cleared its references yet (services.retention).
        raise FilesPurged(copy.exam.files_purged_at) from None
    except PdfRefused:
        return []


def copy_margin_lines(copy: Copy, review: Review, row: ReviewRow) -> list[tuple[str, bool]]:
    """What the margin says (text, bold): the name, the total, each question's points and feedback."""
    total = row.total
    lines: list[tuple[str, bool]] = [(copy.student_label, True)]
    if total is not None:
        lines.append(
            (
                _("Total : %(total)s / %(max)s (%(twenty)s / 20)")
                % {
                    "total": fr_number(total),
                    "max": fr_number(review.bareme_total),
                    "twenty": fr_number(on_twenty(total, review.bareme_total)),
                },
                True,
            )
        )
    if copy.appreciation:
        lines.append(("", False))
        lines.append((copy.appreciation, False))
    lines.append(("", False))
    for n, (question, grade) in enumerate(zip(review.questions, row.cells, strict=True), start=1):
        if grade is None:
            lines.append((f"Q{n} : —", True))
            continue
        lines.append((f"Q{n} : {fr_number(grade.points)} / {fr_number(question.max_points)}", True))
        feedback = grade.feedback.strip()
        if len(feedback) > FEEDBACK_CHARS:
            feedback = feedback[: FEEDBACK_CHARS - 1].rstrip() + "…"
        if feedback:
            lines.append((feedback, False))
    return lines


def copy_annotated_pdf(*, copy: Copy, review: Review | None = None) -> bytes:
    """The copy's pages with the points and a short feedback per question in a right margin."""
    review = review or review_get(exam=copy.exam)
    row = next(r for r in review.rows if r.copy.pk == copy.pk)
    images = _page_images(copy)
    if not images:
        images = [Image.new("RGB", (1240, 1754), "white")]
    lines = copy_margin_lines(copy, review, row)
    annotated = []
    pending = list(lines)
    for number, image in enumerate(images, start=1):
        width, height = image.size
        margin = int(width * ANNOTATION_MARGIN)
        canvas = Image.new("RGB", (width + margin, height), "white")
        canvas.paste(image, (0, 0))
        draw = ImageDraw.Draw(canvas)
        draw.line([(width, 0), (width, height)], fill=(109, 40, 217), width=3)
        size = max(12, width // 60)
        regular, bold = _font(size), _font(size + 2)
        chars = max(20, int(margin / (size * 0.55)))
        x, y = width + size, size
        page_lines = pending if pending else [(copy.student_label, True), (_("Page %(n)s") % {"n": number}, False)]
        remaining: list[tuple[str, bool]] = []
        for index, (text, strong) in enumerate(page_lines):
            wrapped = textwrap.wrap(text, chars) or [""]
            needed = len(wrapped) * int(size * 1.4)
            if y + needed > height - size:
                remaining = page_lines[index:]
                break
            for part in wrapped:
                draw.text((x, y), part, fill=(31, 41, 55) if strong else (75, 85, 99), font=bold if strong else regular)
                y += int(size * 1.4)
            y += int(size * 0.3)
        pending = remaining
        annotated.append(canvas)
    buffer = io.BytesIO()
    annotated[0].save(buffer, "PDF", save_all=True, append_images=annotated[1:], resolution=150.0)
    return buffer.getvalue()


def copy_annotated_filename(copy: Copy) -> str:
    return f"{slugify(copy.student_label) or 'copie'}-{copy.pk}.pdf"


def exam_annotated_zip(*, exam: Exam) -> bytes:
    if exam.files_purged_at is not None:
        raise FilesPurged(exam.files_purged_at)
    review = review_get(exam=exam)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in review.rows:
            archive.writestr(copy_annotated_filename(row.copy), copy_annotated_pdf(copy=row.copy, review=review))
    return buffer.getvalue()
