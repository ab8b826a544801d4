"""A grading process bounds its copies' provider calls (CORRIGO_LLM_CALL_SLOTS, engine.llm.CallSlots)
and runs more copy threads than that (config.workers: CORRIGO_WORKER_AHEAD): a call waits for a
slot, and gives it back as soon as the provider has answered or failed."""

from __future__ import annotations

import pytest

from config.workers import worker_plan
from grading import services
from grading.models import Copy
from grading.services.jobs import _job_create
from tests.factories import copy_with_pages, exam_with_bareme
from usage.models import UsageRecord

from .helpers import from_model, grades_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def _graded(exam, teacher, copy) -> str:
    job = _job_create(exam=exam, user=teacher, copies=[copy], estimate_tokens=50_000)
    copy.refresh_from_db()
    return services.copy_grade(copy_id=copy.pk, job_id=job.pk, attempt=copy.attempt, lease_owner="test-task")


def _double(llm_server, teacher):
    exam = exam_with_bareme(owner=teacher, mode="double", questions=2)
    llm_server.script(grades_json([2, 4]), match=from_model("openai/gpt-4o"), latency=0.3)
    llm_server.script(grades_json([2, 4]), match=from_model("openai/gpt-4.1-mini"), latency=0.3)
    return exam


@pytest.mark.parametrize(("slots", "at_once"), [(0, 2), (2, 2), (1, 1)])
def test_a_copys_two_graders_are_asked_at_once_only_when_two_slots_are_free(
    llm_server, teacher, settings, slots, at_once
):
    settings.CORRIGO_LLM_CALL_SLOTS = slots
    exam = _double(llm_server, teacher)
    llm_server.max_in_flight = 0
    copy = copy_with_pages(exam, pages=1)

    assert _graded(exam, teacher, copy) == Copy.Status.DONE
    assert llm_server.max_in_flight == at_once
    assert UsageRecord.objects.filter(copy=copy).count() == 2


def test_a_failed_call_gives_its_slot_back(llm_server, teacher, settings):
    settings.CORRIGO_LLM_CALL_SLOTS = 1
    exam = exam_with_bareme(owner=teacher, mode="single", questions=2)
    refused, graded = copy_with_pages(exam, pages=1), copy_with_pages(exam, pages=1)
    llm_server.script(fault="400")
    assert _graded(exam, teacher, refused) == Copy.Status.FAILED

    # The only slot is free again: the next copy's call is made (it would wait forever).
    llm_server.script(grades_json([2, 4]))
    assert _graded(exam, teacher, graded) == Copy.Status.DONE


def test_a_grading_process_runs_its_copies_ahead_with_twice_its_threads_as_call_slots():
    environ = {"CORRIGO_WORKER_PROCESSES": "2", "CORRIGO_WORKER_THREADS": "8"}
    *grading, render = worker_plan(environ)
    assert [(spec.threads, spec.env) for spec in grading] == [(12, {"CORRIGO_LLM_CALL_SLOTS": "16"})] * 2
    assert (render.threads, render.env) == (2, {})  # no model call there

    (alone, _render) = worker_plan({**environ, "CORRIGO_WORKER_PROCESSES": "1", "CORRIGO_WORKER_AHEAD": "0"})
    assert (alone.threads, alone.env) == (8, {})  # a thread a copy, no bound: as before
