"""An exam and its class list: who is absent, excused or not graded; which student a copy is."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from rosters.models import Student

from ..errors import WorkflowError
from ..models import Copy, Exam, ExamStudent


def _roster_check(*, exam: Exam, student: Student) -> None:
    if exam.school_class_id is None or student.school_class_id != exam.school_class_id:
        raise WorkflowError(_("Cet élève n'est pas dans la liste de la classe de cette correction."))


def exam_student_mark(*, exam: Exam, student: Student, status: str) -> None:
    """Records "Abs", "Disp." or "Non noté" for a student of the exam's class; "" clears it (a
    student with a copy then has its mark, one without is absent)."""
    _roster_check(exam=exam, student=student)
    if status and status not in ExamStudent.Status.values:
        raise WorkflowError(_("Statut inconnu."))
    with transaction.atomic():
        if status:
            ExamStudent.objects.update_or_create(exam=exam, student=student, defaults={"status": status})
        else:
            ExamStudent.objects.filter(exam=exam, student=student).delete()


def copy_student_set(*, copy: Copy, student: Student | None) -> Copy:
    """The teacher's choice of student for a copy (or none): the copy takes the roster's name."""
    if student is not None:
        _roster_check(exam=copy.exam, student=student)
        copy.student_label = student.display_name[:200]
    elif copy.read_name:
        copy.student_label = copy.read_name[:200]
    copy.student = student
    copy.save(update_fields=["student", "student_label", "updated_at"])
    return copy
