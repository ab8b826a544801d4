"""The subject's pages in the grading prompt (issue 18): rendered once per subject file on the
render queue into the shared cache (enqueued when the subject is stored, and when a job starts
without them), read from there by the grading workers, who render them only when the cache lost
them; the prompt is byte for byte the one a render in the worker gives."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from grading import tasks
from grading.engine import render
from grading.engine.prompts import SUBJECT_MAX_PAGES, exam_context, static_prefix, subject_prompt_render
from grading.models import Copy, Exam
from grading.services.detection import bareme_read
from grading.services.estimate import copy_first_round_worst, job_estimate, slot_configs
from grading.services.exams import exam_delete, exam_subject_save
from grading.services.subject_pages import subject_page_key, subject_pages_get, subject_prompt_pages
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.pdfs import text_pdf

from .helpers import grades_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

SUBJECT = ["Exercice 1 (4 points) : calculer 3 × 7.", "Exercice 2 (6 points) : un problème."]


@pytest.fixture
def sandbox(monkeypatch) -> list[str]:
    """What the PDF sandbox was asked in this process from now on ("render", "count"…)."""
    asked: list[str] = []
    real = render.sandbox_run

    def recording(operation, **request):
        asked.append(operation)
        return real(operation, **request)

    monkeypatch.setattr(render, "sandbox_run", recording)
    return asked


def _subject_store(exam, pages: list[str], django_capture_on_commit_callbacks, *, rendered: bool) -> list:
    """Stores a subject as an upload is; `rendered`: the render task it enqueued has run."""
    upload = SimpleUploadedFile("sujet.pdf", text_pdf(pages), content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=rendered) as enqueued:
        exam_subject_save(exam=exam, upload=upload)
    exam.refresh_from_db()
    return enqueued


def _evict(exam) -> None:
    """The cache lost the subject's pages and their summary (evicted under memory pressure)."""
    pages = [subject_page_key(exam, index) for index in range(1, 11)]
    cache.delete_many([*pages, pages[0].removesuffix(":1")])


def _start(owner_client, django_capture_on_commit_callbacks, exam) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("exam_start", args=[exam.pk]))


def _prefix(request) -> list[dict]:
    return request.body["messages"][:2]


def _direct(exam) -> list[dict]:
    """The static prefix with the subject rendered right here, as workers did before."""
    return static_prefix(exam_context(exam, subject_pages=subject_prompt_render(exam.subject_file.name)))


def test_copies_graded_with_the_pages_in_the_cache_render_nothing_and_send_a_renders_prompt(
    owner_client, teacher, llm_server, eager_celery, sandbox, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=2)
    _subject_store(exam, SUBJECT, django_capture_on_commit_callbacks, rendered=True)
    assert sandbox.count("render") == 1  # the render task, on storing
    for label in ("A", "B"):
        copy_with_pages(exam, pages=1, label=label)
    llm_server.script(grades_json([3, 5]), times=2)

    _start(owner_client, django_capture_on_commit_callbacks, exam)

    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    assert sandbox.count("render") == 1  # neither copy rendered the subject
    first, second = llm_server.requests
    assert _prefix(first) == _prefix(second) == _direct(exam)
    assert sum(part["type"] == "image_url" for part in _prefix(first)[1]["content"]) == 2
    assert "Exercice 2 (6 points)" in first.text  # the text layer, read from the cache too


def test_a_cache_that_lost_a_page_falls_back_to_a_render_in_the_worker_once(
    owner_client, teacher, llm_server, eager_celery, sandbox, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=2)
    _subject_store(exam, SUBJECT, django_capture_on_commit_callbacks, rendered=True)
    cache.delete(subject_page_key(exam, 2))
    copy_with_pages(exam, pages=1, label="A")
    copy_with_pages(exam, pages=1, label="B")
    llm_server.script(grades_json([3, 5]), times=2)
    rendered_before = sandbox.count("render")

    _start(owner_client, django_capture_on_commit_callbacks, exam)

    assert set(exam.copies.values_list("status", flat=True)) == {Copy.Status.DONE}
    # Once for both copies (the process keeps it); the job's start left the render queue alone:
    # the summary was there, only a page was lost.
    assert sandbox.count("render") == rendered_before + 1
    assert [_prefix(r) for r in llm_server.requests] == [_direct(exam)] * 2


def test_storing_a_subject_enqueues_its_render_and_a_replaced_one_never_serves_the_old_pages(
    teacher, eager_celery, sandbox, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    enqueued = _subject_store(exam, SUBJECT, django_capture_on_commit_callbacks, rendered=True)
    assert len(enqueued) == 1 and subject_pages_get(exam=exam) is not None
    old = subject_prompt_pages(exam=exam)

    replaced = _subject_store(exam, ["Un autre sujet"], django_capture_on_commit_callbacks, rendered=False)

    assert len(replaced) == 2  # its render (not run yet) and the old file's deletion
    assert subject_pages_get(exam=exam) is None
    new = subject_prompt_pages(exam=exam)  # rendered here meanwhile: the new subject's
    assert new != old and len(new) == 1 and new == subject_prompt_render(exam.subject_file.name)


def test_a_job_started_without_the_pages_enqueues_their_render(
    owner_client, teacher, llm_server, eager_celery, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=2)
    _subject_store(exam, SUBJECT, django_capture_on_commit_callbacks, rendered=True)
    _evict(exam)
    copy_with_pages(exam, pages=1, label="A")
    llm_server.script(grades_json([3, 5]))

    _start(owner_client, django_capture_on_commit_callbacks, exam)

    shown = subject_pages_get(exam=exam)
    assert shown is not None and len(shown.sizes) == 2
    assert exam.copies.get().status == Copy.Status.DONE


@pytest.mark.parametrize("pages", [SUBJECT_MAX_PAGES - 1, SUBJECT_MAX_PAGES, SUBJECT_MAX_PAGES + 1])
def test_the_prompt_has_the_subjects_first_pages_up_to_the_limit(
    teacher, eager_celery, sandbox, django_capture_on_commit_callbacks, pages
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    texts = [f"Page {n} du sujet." for n in range(1, pages + 1)]
    _subject_store(exam, texts, django_capture_on_commit_callbacks, rendered=True)
    rendered = sandbox.count("render")

    kept = subject_prompt_pages(exam=Exam.objects.get(pk=exam.pk))

    assert sandbox.count("render") == rendered  # from the cache
    assert len(kept) == min(pages, SUBJECT_MAX_PAGES)
    assert [text.strip() for _url, text in kept] == texts[:SUBJECT_MAX_PAGES]
    assert kept == subject_prompt_render(exam.subject_file.name)
    assert tasks.subject_pages_render_task.apply(args=[exam.pk, exam.subject_file.name]).get() == pages


def test_estimates_count_the_subjects_pages_from_the_cache_as_the_sandbox_does(
    teacher, llm_server, eager_celery, sandbox, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    texts = [f"Page {n} du sujet." for n in range(1, SUBJECT_MAX_PAGES + 2)]
    _subject_store(exam, texts, django_capture_on_commit_callbacks, rendered=False)
    copy = copy_with_pages(exam, pages=1)
    counted = job_estimate(exam=Exam.objects.get(pk=exam.pk))  # no render yet: the sandbox counts
    assert sandbox.count("count") == 1
    tasks.subject_pages_render_task.apply(args=[exam.pk, exam.subject_file.name]).get()
    asked = len(sandbox)

    rendered = job_estimate(exam=Exam.objects.get(pk=exam.pk))
    assert len(sandbox) == asked  # read from the render's summary
    # The same pages, and now their text layers: the copy's first round as the worker reckons it
    # from the prompt's pages, which its job's start holds for it.
    exam = Exam.objects.get(pk=exam.pk)
    ctx = exam_context(exam, subject_pages=subject_prompt_pages(exam=exam))
    worker = copy_first_round_worst(copy, configs=slot_configs(exam), ctx=ctx)
    assert rendered.lines[0].first == worker > counted.lines[0].first
    assert len(sandbox) == asked


def test_the_bareme_is_read_from_the_pages_the_render_queue_rendered_else_rendered_there(
    teacher, llm_server, eager_celery, sandbox, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    _subject_store(exam, SUBJECT, django_capture_on_commit_callbacks, rendered=True)
    rendered = sandbox.count("render")
    assert rendered == 1  # the render task, on storing
    llm_server.script({"questions": [{"label": "Exercice 1", "max_points": 4}]}, times=2)

    rows = bareme_read(exam=exam, name=exam.subject_file.name)

    assert [row["label"] for row in rows] == ["Exercice 1"]
    assert sandbox.count("render") == rendered  # the cache's pages: no second render
    from_cache = llm_server.requests[-1].body["messages"]
    assert sum(part["type"] == "image_url" for part in from_cache[0]["content"]) == 2
    assert "Exercice 2 (6 points)" in llm_server.requests[-1].text
    _evict(exam)
    bareme_read(exam=exam, name=exam.subject_file.name)
    assert sandbox.count("render") == rendered + 1  # lost from the cache: rendered by the reading
    assert llm_server.requests[-1].body["messages"] == from_cache  # the same bytes either way


def test_a_replaced_or_deleted_subjects_pages_leave_the_cache(
    teacher, eager_celery, django_capture_on_commit_callbacks
):
    exam = exam_with_bareme(owner=teacher, questions=1)
    _subject_store(exam, SUBJECT, django_capture_on_commit_callbacks, rendered=True)
    old = [subject_page_key(exam, 1), subject_page_key(exam, 2)]
    assert None not in cache.get_many(old).values() and len(cache.get_many(old)) == 2

    _subject_store(exam, ["Un autre sujet"], django_capture_on_commit_callbacks, rendered=True)

    assert cache.get_many(old) == {}  # not kept up to 2 days beside the new subject's
    new = subject_page_key(exam, 1)
    assert cache.get(new) is not None
    with django_capture_on_commit_callbacks(execute=True):
        exam_delete(exam=exam)
    assert cache.get(new) is None
