"""One question across all copies (the « grade by question » page): each student's reading,
points, confidence and the page the answer was read on, sorted; identical readings grouped."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import Copy, Exam, Grade, GradeEdit, Page, Question
from .double_correction import DoubleCorrection, grade_double_correction
from .review import BLANK_READINGS, copies_in_order

BY_QUESTION_SORTS = ("points", "-points", "confidence")
# Margin kept above and below the span the answer was read on, as a share of the page height,
# and the least height shown (a one-line answer still shows its neighbourhood).
CROP_MARGIN = 0.04
CROP_MIN_HEIGHT = 0.2

# The audit entry of an answer marked reviewed (GradeEdit.field).
REVIEWED_FIELD = "reviewed"


@dataclass(frozen=True)
class PageCrop:
    """Where the answer was read: its page and the part of it to show (an SVG viewBox)."""

    index: int
    width: int
    height: int
    top: float  # in the page's pixels
    crop_height: float
    placed: bool  # whether the grader said where on the page (else the whole page)

    @property
    def view_box(self) -> str:
        return f"0 {self.top:.0f} {self.width} {self.crop_height:.0f}"


@dataclass
class AnswerRow:
    copy: Copy
    grade: Grade
    reviewed: bool
    crop: PageCrop | None
    double: DoubleCorrection | None
    group: int | None = None  # its group of identical readings (1-based), when in one


@dataclass
class ReadingGroup:
    number: int
    reading: str  # as the first of them was read
    blank: bool
    rows: list[AnswerRow] = field(default_factory=list)

    @property
    def points(self) -> list[tuple[Decimal, int]]:
        """The points the group has now, each with how many answers have them."""
        counts: dict[Decimal, int] = {}
        for row in self.rows:
            counts[row.grade.points] = counts.get(row.grade.points, 0) + 1
        return sorted(counts.items())


@dataclass
class QuestionReview:
    exam: Exam
    question: Question
    position: int  # 1-based
    previous: Question | None
    next: Question | None
    rows: list[AnswerRow]
    groups: list[ReadingGroup]
    ungraded: int  # copies without a grade on this question
    answered: int  # copies with one (shown or filtered out)
    reviewed_count: int  # of those, marked reviewed


def _number_key(match: re.Match[str]) -> str:
    return f"{Decimal(match.group().replace(',', '.')).normalize():f}"


def reading_key(reading: str) -> str:
    """What two readings must share to be « the same answer »: case, accents and spaces
    ignored, numbers written alike (3,50 = 3.5 = 03; 1 000 = 1000); blank answers are ""."""
    if reading.strip().lower() in BLANK_READINGS:
        return ""
    text = "".join(c for c in unicodedata.normalize("NFKD", reading) if not unicodedata.combining(c)).casefold()
    text = re.sub(r"(?<=\d)\s(?=\d{3}(?!\d))", "", text)  # thousands: 1 000
    text = re.sub(r"\d+(?:[.,]\d+)?", _number_key, text)
    text = re.sub(r"\s+", " ", text).strip()
    # Spaces around signs and punctuation do not make another answer: "x=3" is "x = 3".
    return re.sub(r" ?([^\w ]) ?", r"\1", text)


def _crop(grade: Grade, pages: dict[int, Page]) -> PageCrop | None:
    """The page the grader read the answer on (its first page when it did not say)."""
    page = pages.get(grade.page or 1)
    if page is None or not page.width or not page.height:
        return None
    height = float(page.height)
    if grade.span_top is None or grade.span_bottom is None:
        return PageCrop(page.index, page.width, page.height, 0.0, height, placed=False)
    top = max(0.0, grade.span_top - CROP_MARGIN)
    bottom = min(1.0, max(grade.span_bottom + CROP_MARGIN, top + CROP_MIN_HEIGHT))
    top = max(0.0, min(top, bottom - CROP_MIN_HEIGHT))
    return PageCrop(page.index, page.width, page.height, top * height, (bottom - top) * height, placed=True)


def reviewed_grade_ids(*, grades: list[Grade]) -> set[int]:
    """The grades the teacher marked reviewed (an audit entry) and not « à revoir » since."""
    marked = set(
        GradeEdit.objects.filter(grade__in=[g.pk for g in grades], field=REVIEWED_FIELD).values_list(
            "grade_id", flat=True
        )
    )
    return {grade.pk for grade in grades if grade.pk in marked and not grade.needs_review}


def question_review_get(*, exam: Exam, question: Question, sort: str = "", todo: bool = False) -> QuestionReview:
    """One question across the exam's copies in six queries whatever the class size: the
    rows in the class list's order, or by points (`"points"`, `"-points"`) or lowest
    confidence first; `todo`: only the answers not marked reviewed."""
    questions = list(exam.questions.all())
    position = next(i for i, q in enumerate(questions) if q.pk == question.pk)
    copies = list(copies_in_order(exam=exam))
    grades = {grade.copy_id: grade for grade in Grade.objects.filter(question=question).order_by()}
    pages: dict[int, dict[int, Page]] = {}
    for page in Page.objects.filter(copy__exam=exam).only("copy_id", "index", "width", "height"):
        pages.setdefault(page.copy_id, {})[page.index] = page
    reviewed = reviewed_grade_ids(grades=list(grades.values()))
    rows = []
    for copy in copies:
        grade = grades.get(copy.pk)
        if grade is None:
            continue
        grade.copy = copy  # the row's copy, already read
        rows.append(
            AnswerRow(
                copy=copy,
                grade=grade,
                reviewed=grade.pk in reviewed,
                crop=_crop(grade, pages.get(copy.pk, {})),
                double=grade_double_correction(grade=grade, step=exam.rounding_step, models={}),
            )
        )
    groups = _groups(rows)
    answered, reviewed_count = len(rows), sum(row.reviewed for row in rows)
    if todo:
        rows = [row for row in rows if not row.reviewed]
    if sort in ("points", "-points"):
        rows.sort(key=lambda row: row.grade.points, reverse=sort == "-points")
    elif sort == "confidence":
        rows.sort(key=lambda row: row.grade.confidence)
    return QuestionReview(
        exam=exam,
        question=question,
        position=position + 1,
        previous=questions[position - 1] if position > 0 else None,
        next=questions[position + 1] if position + 1 < len(questions) else None,
        rows=rows,
        groups=groups,
        ungraded=len(copies) - len(grades),
        answered=answered,
        reviewed_count=reviewed_count,
    )


def _groups(rows: list[AnswerRow]) -> list[ReadingGroup]:
    """Answers read the same (reading_key), two or more: the largest group first."""
    by_key: dict[str, list[AnswerRow]] = {}
    for row in rows:
        by_key.setdefault(reading_key(row.grade.reading), []).append(row)
    shared = sorted((members for members in by_key.values() if len(members) > 1), key=len, reverse=True)
    groups = []
    for number, members in enumerate(shared, start=1):
        blank = reading_key(members[0].grade.reading) == ""
        groups.append(ReadingGroup(number=number, reading=members[0].grade.reading, blank=blank, rows=members))
        for row in members:
            row.group = number
    return groups


def question_grades(*, question: Question, pks: list[int] | None = None) -> list[Grade]:
    """The question's grades (an owner-scoped question's, so only the teacher's), all of them
    or those among `pks`; ids of other questions' grades are left out."""
    grades = Grade.objects.filter(question=question).select_related("copy__exam")
    if pks is not None:
        grades = grades.filter(pk__in=pks)
    return list(grades.order_by("pk"))
