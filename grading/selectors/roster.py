"""An exam's grades in its class list's order: one line per roster student (absent ones too),
then the copies matched to nobody. What the exports and Pronote's grid follow (issue 13)."""

from __future__ import annotations

from dataclasses import dataclass

from rosters.models import Student

from ..models import Exam, ExamStudent
from .review import Review, ReviewRow

# Pronote's codes for a mark that is not a number, whatever the page's language.
PRONOTE_CODES: dict[str, str] = {
    ExamStudent.Status.ABSENT: "Abs",
    ExamStudent.Status.EXCUSED: "Disp",
    ExamStudent.Status.NOT_GRADED: "N.Not",
}


@dataclass(frozen=True)
class SheetLine:
    student: Student | None
    row: ReviewRow | None  # None: no copy for this student
    status: str  # an ExamStudent.Status, or "" for a mark that counts

    @property
    def name(self) -> str:
        """ "NOM Prénom" of the roster, else the copy's label."""
        if self.student is not None:
            return self.student.display_name
        return self.row.copy.student_label if self.row is not None else ""

    @property
    def code(self) -> str:
        """Abs / Disp / N.Not, or "" when the line has a mark."""
        return PRONOTE_CODES.get(self.status, "") if self.status else ""


def exam_roster(*, exam: Exam) -> list[Student]:
    """The exam's class list in its order (empty without a class)."""
    if exam.school_class_id is None:
        return []
    return list(Student.objects.filter(school_class_id=exam.school_class_id))


def roster_statuses(*, exam: Exam) -> dict[int, str]:
    """The statuses the teacher recorded, by student id."""
    return dict(exam.student_statuses.values_list("student_id", "status"))


def exam_sheet(*, exam: Exam, review: Review) -> list[SheetLine]:
    """The review's rows in the class list's order, absent students included (two queries)."""
    if exam.school_class_id is None:
        return [SheetLine(None, row, "") for row in review.rows]
    statuses = roster_statuses(exam=exam)
    by_student: dict[int | None, list[ReviewRow]] = {}
    for row in review.rows:
        by_student.setdefault(row.copy.student_id, []).append(row)
    lines = []
    for student in Student.objects.filter(school_class_id=exam.school_class_id):
        rows = by_student.pop(student.pk, [])
        status = statuses.get(student.pk, "" if rows else ExamStudent.Status.ABSENT)
        lines += [SheetLine(student, row, status) for row in rows] or [SheetLine(student, None, status)]
    # Copies matched to nobody (or to a student since removed from the list) come last.
    lines += [SheetLine(None, row, "") for rows in by_student.values() for row in rows]
    return lines
