"""Reads of a teacher's classes, always scoped to the teacher (another one gets a 404)."""

from __future__ import annotations

from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import SchoolClass, Student


def school_classes_for(*, user: User) -> QuerySet[SchoolClass]:
    return SchoolClass.objects.filter(teacher=user).annotate(student_count=Count("students"))


def school_class_get(*, user: User, pk: int) -> SchoolClass:
    """One of the teacher's classes by id (a single query), or Http404."""
    return get_object_or_404(SchoolClass, pk=pk, teacher=user)


def student_get(*, user: User, pk: int) -> Student:
    """A student of one of the teacher's classes (its class joined), or Http404."""
    return get_object_or_404(Student.objects.select_related("school_class"), pk=pk, school_class__teacher=user)


def roster_students(*, school_class: SchoolClass) -> list[Student]:
    """The class list in its order (the order of the list imported, then of students added)."""
    return list(school_class.students.all())
