"""Exports of an exam's grades: CSV (French Excel), XLSX, JSON with the audit, annotated PDFs.

All read through selectors.review_get, so every format shows the same numbers as the grid.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
import zipfile
from decimal import Decimal

from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from usage.selectors import usage_exam_cost_json

from .engine.render import local_copy, pdf_pages
from .engine.sandbox import PdfRefused
from .errors import FilesPurged
from .models import Copy, Exam, GradeEdit, ModelAnswer
from .selectors import Review, review_get

ANNOTATION_MARGIN = 0.42  # of the page width, added on the right
FEEDBACK_CHARS = 140


def _on_twenty(total: Decimal | None, bareme_total: Decimal) -> Decimal | None:
    if total is None or not bareme_total:
        return None
    return (total * 20 / bareme_total).quantize(Decimal("0.01"))


def _fr(value: Decimal | None) -> str:
    if value is None:
        return ""
    return f"{value.normalize():f}".replace(".", ",")


def _headers(review: Review) -> list[str]:
    questions = [f"Q{n} {q.label} (/{_fr(q.max_points)})" for n, q in enumerate(review.questions, start=1)]
    return [
        _("Élève"),
        *questions,
        _("Total (/%(max)s)") % {"max": _fr(review.bareme_total)},
        _("Note /20"),
        _("Appréciation"),
    ]


def _feedback(row) -> str:
    parts = []
    for n, grade in enumerate(row.cells, start=1):
        if grade is not None and grade.feedback:
            parts.append(f"Q{n} : {grade.feedback}")
    return "\n".join(parts)


def exam_csv(*, exam: Exam) -> bytes:
    """UTF-8 with BOM and `;` separators, decimal commas: what French Excel opens as is."""
    review = review_get(exam=exam)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(_headers(review))
    for row in review.rows:
        writer.writerow(
            [
                row.copy.student_label,
                *(_fr(g.points) if g is not None else "" for g in row.cells),
                _fr(row.total),
                _fr(_on_twenty(row.total, review.bareme_total)),
                _feedback(row),
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def exam_xlsx(*, exam: Exam) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    review = review_get(exam=exam)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Notes")[:31]
    sheet.append(_headers(review))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in review.rows:
        sheet.append(
            [
                row.copy.student_label,
                *(float(g.points) if g is not None else None for g in row.cells),
                float(row.total) if row.total is not None else None,
                float(on_twenty) if (on_twenty := _on_twenty(row.total, review.bareme_total)) is not None else None,
                _feedback(row),
            ]
        )
        sheet.cell(row=sheet.max_row, column=sheet.max_column).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 28
    sheet.freeze_panes = "B2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def exam_json(*, exam: Exam) -> dict:
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
        grades = answer.get_grades()
        answers.setdefault(answer.copy_id, []).append(
            {
                "attempt": answer.attempt,
                "phase": answer.phase,
                "slot": answer.slot,
                "repair": answer.repair,
                "model": answer.model,
                "grades": grades.model_dump() if grades is not None else None,
                "error": answer.error,
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
                    "confidence": grade.confidence,
                    "disagreement": grade.disagreement,
                    "resolution": grade.resolution,
                    "engine_audit": getattr(grade, "audit", None) or {},
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
                "manipulation_reason": row.copy.manipulation_reason,
                "total": str(row.total) if row.total is not None else None,
                "on_twenty": str(_on_twenty(row.total, review.bareme_total) or "") or None,
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
        "questions": questions,
        "copies": copies,
    }


def exam_json_bytes(*, exam: Exam) -> bytes:
    return json.dumps(exam_json(exam=exam), ensure_ascii=False, indent=2).encode("utf-8")


# --- Annotated PDFs ------------------------------------------------------------------------


def _font(size: int):
    from PIL import ImageFont

    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _page_images(copy: Copy) -> list:
    """The copy's pages as images: the rendered ones, or rendered now from the source PDF."""
    from PIL import Image

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
        # Deleted by a purge that has not cleared its references yet (grading.retention).
        raise FilesPurged(copy.exam.files_purged_at) from None
    except PdfRefused:
        return []


def _margin_lines(copy: Copy, review: Review, row) -> list[tuple[str, bool]]:
    total = row.total
    lines: list[tuple[str, bool]] = [(copy.student_label, True)]
    if total is not None:
        lines.append(
            (
                _("Total : %(total)s / %(max)s (%(twenty)s / 20)")
                % {
                    "total": _fr(total),
                    "max": _fr(review.bareme_total),
                    "twenty": _fr(_on_twenty(total, review.bareme_total)),
                },
                True,
            )
        )
    lines.append(("", False))
    for n, (question, grade) in enumerate(zip(review.questions, row.cells, strict=True), start=1):
        if grade is None:
            lines.append((f"Q{n} : —", True))
            continue
        lines.append((f"Q{n} : {_fr(grade.points)} / {_fr(question.max_points)}", True))
        feedback = grade.feedback.strip()
        if len(feedback) > FEEDBACK_CHARS:
            feedback = feedback[: FEEDBACK_CHARS - 1].rstrip() + "…"
        if feedback:
            lines.append((feedback, False))
    return lines


def copy_annotated_pdf(*, copy: Copy, review: Review | None = None) -> bytes:
    """The copy's pages with the points and a short feedback per question in a right margin."""
    from PIL import Image, ImageDraw

    review = review or review_get(exam=copy.exam)
    row = next(r for r in review.rows if r.copy.pk == copy.pk)
    images = _page_images(copy)
    if not images:
        images = [Image.new("RGB", (1240, 1754), "white")]
    lines = _margin_lines(copy, review, row)
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
