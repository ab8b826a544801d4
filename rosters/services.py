"""A teacher's classes and class lists: create, edit, delete, import, one student at a time."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from accounts.models import User
from core.text import fold

from .importing import RosterRow
from .models import SchoolClass, Student


@dataclass(frozen=True)
class ImportResult:
    added: int
    skipped: int  # already in the list (same last and first names)


def school_class_create(*, teacher: User, name: str, level: str = "", school_year: str = "") -> SchoolClass:
    return SchoolClass.objects.create(teacher=teacher, name=name, level=level, school_year=school_year)


def school_class_update(*, school_class: SchoolClass, name: str, level: str, school_year: str) -> SchoolClass:
    school_class.name, school_class.level, school_class.school_year = name, level, school_year
    school_class.save(update_fields=["name", "level", "school_year"])
    return school_class


def school_class_delete(*, school_class: SchoolClass) -> None:
    """The class and its list go; exams keep their copies and grades (their class is unset)."""
    school_class.delete()


def _key(last_name: str, first_name: str) -> tuple[str, str]:
    return fold(last_name), fold(first_name)


def roster_import(*, school_class: SchoolClass, rows: list[RosterRow]) -> ImportResult:
    """Appends the rows to the class list in their order, all or nothing; a student already
    listed (same names, accents and case aside) is skipped, so importing twice adds nobody."""
    with transaction.atomic():
        # Locks the class: two imports at once would interleave positions and duplicates.
        SchoolClass.objects.select_for_update().filter(pk=school_class.pk).first()
        known = {_key(s.last_name, s.first_name) for s in school_class.students.all()}
        position = school_class.students.aggregate(top=Max("position"))["top"] or 0
        new = []
        for row in rows:
            key = _key(row.last_name, row.first_name)
            if key in known:
                continue
            known.add(key)
            position += 1
            new.append(
                Student(
                    school_class=school_class,
                    position=position,
                    last_name=row.last_name,
                    first_name=row.first_name,
                    number=row.number,
                    email=row.email,
                )
            )
        Student.objects.bulk_create(new)
    return ImportResult(added=len(new), skipped=len(rows) - len(new))


def student_add(
    *, school_class: SchoolClass, last_name: str, first_name: str, number: str = "", email: str = ""
) -> Student:
    with transaction.atomic():
        SchoolClass.objects.select_for_update().filter(pk=school_class.pk).first()
        position = (school_class.students.aggregate(top=Max("position"))["top"] or 0) + 1
        return Student.objects.create(
            school_class=school_class,
            position=position,
            last_name=last_name,
            first_name=first_name,
            number=number,
            email=email,
        )


def student_update(*, student: Student, last_name: str, first_name: str, number: str, email: str) -> Student:
    student.last_name, student.first_name, student.number, student.email = last_name, first_name, number, email
    student.save(update_fields=["last_name", "first_name", "number", "email"])
    return student


def student_delete(*, student: Student) -> None:
    """The student leaves the list; copies matched to them keep their grades and read name."""
    student.delete()
