"""The school admin of a teacher's school sees their usage, never their exams: the same walk of
every grading URL as tests/grading/workflow/test_isolation.py, as the school admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from schools.services import school_teacher_add
from tests.grading.workflow.test_isolation import _grading_patterns, _kwargs, _request

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("route", "pattern"), _grading_patterns())
def test_the_school_admin_gets_404_on_their_teachers_exams(
    route, pattern, client, teacher, school, school_admin, owned
):
    school_teacher_add(school=school, user=teacher)
    url = reverse(pattern.name, kwargs=_kwargs(route, pattern.pattern.converters, owned))
    client.force_login(school_admin)
    assert _request(client, url).status_code == 404
    client.force_login(teacher)
    assert _request(client, url).status_code not in (404, 500)


def test_the_walk_covers_copies_page_images_and_exports():
    routes = {p.id for p in _grading_patterns()}
    assert {"exams/<int:pk>/", "copies/<int:pk>/"} <= routes
    assert any("pages" in route for route in routes), routes
    assert any("export" in route for route in routes), routes


def test_the_school_admins_page_links_to_no_exam_or_copy(client, teacher, school, school_admin, owned, spend):
    school_teacher_add(school=school, user=teacher)
    spend(teacher, 100, exam=owned["exam"])
    client.force_login(school_admin)
    page = client.get(reverse("school_detail", args=[school.pk])).content.decode()
    assert teacher.email in page
    assert owned["exam"].title not in page and owned["copy"].student_label not in page
    assert "/exams/" not in page and "/copies/" not in page
