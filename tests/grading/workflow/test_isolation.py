"""Another teacher gets a 404 from every URL that takes an exam, copy, grade or file id.

The URL list is not written by hand: the test walks the whole resolver (pages, api/) and the
websocket routing, so a new URL under grading that forgets the ownership check fails here.
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core.realtime import realtime_user_owns_group
from grading import services
from grading.models import Copy, Page, SourceFile
from rosters.models import SchoolClass, Student
from tests.factories import CopyFactory, ExamFactory, GradeFactory, QuestionFactory, jpeg_bytes
from tests.grading.workflow.pdfs import pdf_bytes

# Kwargs a grading URL may take, and the object of the owner's exam each one names.
ID_KWARGS = {
    "pk",
    "exam_pk",
    "exam_id",
    "question_pk",
    "copy_pk",
    "grade_pk",
    "source_pk",
    "student_pk",
    "regrade_pk",
    "proposal_pk",
    "index",
    "fmt",
}


def _walk(resolvers, prefix=""):
    for entry in resolvers:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def _grading_patterns():
    found = []
    for route, pattern in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        module = getattr(callback, "__module__", "") or ""
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if view_class is not None:
            module = view_class.__module__
        # Any app's URL under an exam, copy, grade or file id counts (api/exams/<id>/cost/ was
        # usage's and answered another teacher with 200).
        head = route.removeprefix("api/").split("/", 1)[0]
        owned_head = head in {"exams", "copies", "grades", "sources"}
        if "token" in pattern.pattern.converters:
            continue  # a student's private link: no account, the token is the key (walked below)
        if (module.startswith("grading") or owned_head) and pattern.pattern.converters:
            found.append(pytest.param(route, pattern, id=route))
    return found


def _token_patterns():
    return [
        pytest.param(route, pattern, id=route)
        for route, pattern in _walk(get_resolver().url_patterns)
        if "token" in pattern.pattern.converters
    ]


@pytest.fixture
def owned(teacher):
    school_class = SchoolClass.objects.create(teacher=teacher, name="3e B")
    student = Student.objects.create(school_class=school_class, last_name="DUBOIS", first_name="Chloé")
    exam = ExamFactory(owner=teacher, school_class=school_class)
    exam.subject_file.save("sujet.pdf", ContentFile(pdf_bytes(1)), save=True)
    question = QuestionFactory(exam=exam, max_points=Decimal("4"))
    source = SourceFile.objects.create(exam=exam, original_name="copie.pdf", page_count=1)
    source.file.save("copie.pdf", ContentFile(pdf_bytes(1)), save=True)
    copy = CopyFactory(exam=exam, source=source)
    page = Page(copy=copy, index=1, width=10, height=10)
    page.image.save("p.jpg", ContentFile(jpeg_bytes()), save=True)
    grade = GradeFactory(copy=copy, question=question)
    # A student's regrade request, filed through their link as they would.
    link = services.copy_link_issue(copy=copy, user=teacher).link
    regrade = services.regrade_request_file(link=link, question_id=question.pk, message="Relisez la question 1.")
    proposal = services.bareme_proposal_start(exam=exam)  # its task is never enqueued here (no commit)
    export = services.export_start(exam=exam, user=teacher, fmt="csv")
    services.export_build(export=export)
    return {
        "proposal": proposal,
        "export": export,
        "regrade": regrade,
        "exam": exam,
        "question": question,
        "source": source,
        "copy": copy,
        "grade": grade,
        "student": student,
    }


def _kwargs(route: str, names, owned) -> dict:
    head = route.removeprefix("api/").split("/", 1)[0]
    by_head = {
        "exams": "exam",
        "copies": "copy",
        "grades": "grade",
        "sources": "source",
        "proposals": "proposal",
        "exports": "export",
    }
    kwargs = {}
    for name in names:
        assert name in ID_KWARGS, f"{route}: teach test_isolation what {name!r} names"
        if name == "pk":
            assert head in by_head, f"{route}: teach test_isolation which object this pk names"
            kwargs[name] = owned[by_head[head]].pk
        elif name == "index":
            kwargs[name] = 1
        elif name == "fmt":
            kwargs[name] = "csv"
        else:
            kwargs[name] = owned[name.removesuffix("_pk").removesuffix("_id")].pk
    return kwargs


def _request(client, url):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url)
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern"), _grading_patterns())
def test_another_teacher_gets_404(route, pattern, client, teacher, other_teacher, owned):
    kwargs = _kwargs(route, pattern.pattern.converters, owned)
    assert pattern.name, f"{route}: give the URL a name"
    url = reverse(pattern.name, kwargs=kwargs)

    client.force_login(other_teacher)
    assert _request(client, url).status_code == 404

    # The same URL works for its owner: the 404 above is the ownership check, not a bad id.
    client.force_login(teacher)
    assert _request(client, url).status_code not in (404, 500)


def test_the_walk_finds_the_grading_urls():
    routes = [p.id for p in _grading_patterns()]
    assert "exams/<int:pk>/" in routes
    assert "copies/<int:pk>/" in routes
    assert "api/exams/<int:pk>/cost/" in routes


@pytest.mark.django_db
def test_another_teacher_cannot_listen_to_an_exams_progress(teacher, other_teacher):
    from config.routing import websocket_urlpatterns

    exam = ExamFactory(owner=teacher)
    assert any("group" in p.pattern.regex.groupindex for p in websocket_urlpatterns)
    assert realtime_user_owns_group(user=teacher, group=f"exam-{exam.pk}")
    assert not realtime_user_owns_group(user=other_teacher, group=f"exam-{exam.pk}")


def _graded_link(copy, teacher) -> str:
    """A link to `copy` as the teacher issues it, once the copy is graded; its token."""
    copy.transition(source=[copy.status], target=Copy.Status.DONE)
    return services.copy_link_issue(copy=copy, user=teacher).url.rstrip("/").rsplit("/", 1)[-1]


def test_the_walk_finds_the_student_link_urls():
    assert {p.id for p in _token_patterns()} == {"r/<str:token>/", "r/<str:token>/copie.pdf", "r/<str:token>/regrade/"}


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "pattern"), _token_patterns())
def test_a_student_link_opens_its_own_copy_only(route, pattern, client, teacher, other_teacher, owned):
    """Anyone holding a token opens that copy, and nothing else: not another token's copy, not
    a guessed or another exam's token, and no page of the teacher's from there."""
    token = _graded_link(owned["copy"], teacher)
    other_exam = ExamFactory(owner=other_teacher)
    other_token = _graded_link(CopyFactory(exam=other_exam, student_label="Élève d'une autre classe"), other_teacher)
    assert set(pattern.pattern.converters) == {"token"}, f"{route}: a student link takes its token only"

    for who in (None, other_teacher, teacher):
        client.logout()
        if who is not None:
            client.force_login(who)
        assert _request(client, reverse(pattern.name, kwargs={"token": secrets.token_urlsafe(32)})).status_code == 404
        assert _request(client, reverse(pattern.name, kwargs={"token": token})).status_code not in (404, 500)
    other_page = client.get(reverse("student_copy", kwargs={"token": other_token})).content.decode()
    assert owned["copy"].student_label not in other_page

    # Every address on the student's page is its own link's or a static file: nothing of the
    # teacher's account (grid, copy pages, exports, other copies) is reachable from it.
    client.logout()
    page = client.get(reverse("student_copy", kwargs={"token": token})).content.decode()
    addresses = re.findall(r'(?:href|src|action)="([^"]*)"', page)
    assert addresses
    for address in addresses:
        assert address.startswith((f"/r/{token}/", settings.STATIC_URL)), address
