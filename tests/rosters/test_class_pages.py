"""The classes pages: list, create, edit, delete, students one by one, and who may see them."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings
from django.urls import URLPattern, reverse
from django.utils import translation

from grading.models import Exam
from rosters.models import SchoolClass, Student

pytestmark = pytest.mark.django_db


@pytest.fixture
def school_class(teacher):
    school_class = SchoolClass.objects.create(teacher=teacher, name="3e B", level="3e", school_year="2026-2027")
    Student.objects.create(school_class=school_class, position=1, last_name="DUBOIS", first_name="Chloé")
    return school_class


def test_a_teacher_creates_a_class_and_lands_on_its_import_form(owner_client, teacher):
    response = owner_client.post(reverse("class_create"), {"name": "4e A", "level": "4e", "school_year": "2026-2027"})

    school_class = SchoolClass.objects.get(teacher=teacher)
    assert response.url == reverse("class_detail", args=[school_class.pk])
    page = owner_client.get(response.url).content.decode()
    assert "Importer la liste" in page and "Classe créée." in page


def test_the_class_list_shows_each_class_with_its_student_count(owner_client, school_class):
    page = owner_client.get(reverse("class_list")).content.decode()

    assert "3e B" in page and "2026-2027" in page and "<td>1</td>" in page


def test_a_class_is_renamed_and_a_student_added_edited_and_removed(owner_client, school_class):
    owner_client.post(reverse("class_edit", args=[school_class.pk]), {"name": "3e B2", "level": "3e"})
    owner_client.post(
        reverse("student_add", args=[school_class.pk]), {"last_name": "MARTIN", "first_name": "Lucas", "email": ""}
    )
    lucas = Student.objects.get(last_name="MARTIN")
    owner_client.post(
        reverse("student_edit", args=[lucas.pk]), {"last_name": "MARTIN", "first_name": "Luc", "number": "12"}
    )
    owner_client.post(reverse("student_delete", args=[Student.objects.get(last_name="DUBOIS").pk]))

    school_class.refresh_from_db()
    assert school_class.name == "3e B2"
    assert [(s.last_name, s.first_name, s.number, s.position) for s in school_class.students.all()] == [
        ("MARTIN", "Luc", "12", 2)
    ]


def test_a_student_with_a_bad_email_is_refused_on_the_class_page(owner_client, school_class):
    response = owner_client.post(
        reverse("student_add", args=[school_class.pk]), {"last_name": "MARTIN", "email": "lucas@"}
    )

    assert response.status_code == 400
    assert school_class.students.count() == 1


def _head(client, school_class) -> str:
    """The class page's line under its name: level · year · how many students."""
    page = client.get(reverse("class_detail", args=[school_class.pk])).content.decode()
    line = re.search(r'<p class="muted">(.*?)</p>', page, re.S).group(1)
    return " ".join(html.unescape(line).split())


def test_the_student_count_is_singular_at_0_and_1_in_french_and_plural_from_2(owner_client, teacher):
    """French says « 0 élève » (its catalogue's rule, n > 1); English says « 0 students »."""
    owner_client.post(reverse("class_create"), {"name": "4e A", "level": "4e", "school_year": "2026-2027"})
    school_class = SchoolClass.objects.get(teacher=teacher)
    heads = [_head(owner_client, school_class)]
    for name in ("MARTIN", "DUBOIS"):
        owner_client.post(reverse("student_add", args=[school_class.pk]), {"last_name": name, "email": ""})
        heads.append(_head(owner_client, school_class))

    assert heads == ["4e · 2026-2027 · 0 élève", "4e · 2026-2027 · 1 élève", "4e · 2026-2027 · 2 élèves"]
    teacher.language = "en"
    teacher.save(update_fields=["language"])
    try:
        english = _head(owner_client, school_class)
        for student in school_class.students.all():
            owner_client.post(reverse("student_delete", args=[student.pk]))
        assert (english, _head(owner_client, school_class)) == (
            "4e · 2026-2027 · 2 students",
            "4e · 2026-2027 · 0 students",
        )
    finally:
        translation.activate(settings.LANGUAGE_CODE)  # the request activated English in this thread


def test_deleting_a_class_keeps_its_exams_without_a_class(owner_client, teacher, school_class):
    exam = Exam.objects.create(owner=teacher, title="Contrôle", school_class=school_class)

    owner_client.post(reverse("class_delete", args=[school_class.pk]))

    exam.refresh_from_db()
    assert exam.school_class is None
    assert not Student.objects.exists()


def test_an_exam_belongs_to_one_of_the_teachers_classes_only(owner_client, teacher, other_teacher, school_class):
    foreign = SchoolClass.objects.create(teacher=other_teacher, name="6e C")
    form = {"title": "Contrôle", "language": "fr", "mode": "single", "rounding_step": "0.5"}

    refused = owner_client.post(reverse("exam_create"), form | {"school_class": foreign.pk})
    owner_client.post(reverse("exam_create"), form | {"school_class": school_class.pk, "mask_names": "on"})

    assert refused.status_code == 200 and "school_class" in refused.context["form"].errors
    exam = Exam.objects.get(owner=teacher)
    assert (exam.school_class, exam.mask_names) == (school_class, True)
    page = owner_client.get(reverse("exam_create")).content.decode()
    assert "3e B (2026-2027)" in page and "6e C" not in page


def _rosters_patterns():
    import rosters.urls

    return [
        pytest.param(pattern, id=str(pattern.pattern))
        for pattern in rosters.urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.pattern.converters
    ]


@pytest.mark.parametrize("pattern", _rosters_patterns())
def test_another_teacher_gets_a_404_from_every_class_url(client, other_teacher, school_class, pattern):
    student = school_class.students.get()
    kwargs = {name: school_class.pk if name == "pk" else student.pk for name in pattern.pattern.converters}
    client.force_login(other_teacher)
    url = reverse(pattern.name, kwargs=kwargs)

    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)

    assert response.status_code == 404
    assert SchoolClass.objects.filter(pk=school_class.pk).exists() and Student.objects.filter(pk=student.pk).exists()


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, school_class):
    response = client.get(reverse("class_detail", args=[school_class.pk]))

    assert response.status_code == 302 and "/accounts/login/" in response.url
