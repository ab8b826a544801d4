"""A proposal's states (models.Proposal, services.proposals) without a worker: the task's
service is called here as the worker would call it, against the scripted LLM server."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile

from grading import services
from grading.models import Proposal
from grading.models.proposals import PROPOSAL_STALE_AFTER
from grading.services.proposals import proposal_run
from tests.factories import ExamFactory
from tests.support.pdfs import text_pdf
from usage.models import UsageRecord

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]

MICROSECOND = timedelta(microseconds=1)


@pytest.fixture
def proposal(teacher):
    exam = ExamFactory(owner=teacher)
    exam.subject_file.save("sujet.pdf", ContentFile(text_pdf(["Exercice 1 (4 points)"])))
    return services.bareme_proposal_start(exam=exam)  # on_commit never comes: not enqueued


def test_an_in_flight_proposal_is_stale_only_past_the_limit(proposal):
    at = proposal.updated_at + PROPOSAL_STALE_AFTER
    assert not proposal.stale(now=at - MICROSECOND)
    assert not proposal.stale(now=at)
    assert proposal.stale(now=at + MICROSECOND)
    proposal.status = Proposal.Status.READY
    assert not proposal.stale(now=at + timedelta(days=1))


def test_a_running_proposal_is_taken_again_only_once_stale(proposal):
    assert proposal.claim()
    assert not proposal.claim()  # the same message delivered twice
    at = Proposal.objects.get(pk=proposal.pk).updated_at + PROPOSAL_STALE_AFTER
    assert not proposal.claim(now=at)
    assert proposal.claim(now=at + MICROSECOND)  # its worker was lost
    assert Proposal.objects.get(pk=proposal.pk).updated_at == at + MICROSECOND


def test_a_second_delivery_of_the_task_reads_and_pays_nothing_more(proposal, llm_server):
    llm_server.script({"questions": [{"label": "Exercice 1", "max_points": 4}]}, times=2)

    assert proposal_run(proposal_id=proposal.pk) == Proposal.Status.READY
    assert proposal_run(proposal_id=proposal.pk) == "skipped"

    assert Proposal.objects.get(pk=proposal.pk).rows == [{"label": "Exercice 1", "max_points": "4", "criteria": ""}]
    assert UsageRecord.objects.count() == len(llm_server.requests) == 1


def test_a_lost_reading_is_told_as_interrupted_and_another_can_start(proposal, teacher):
    Proposal.objects.filter(pk=proposal.pk).update(updated_at=proposal.updated_at - PROPOSAL_STALE_AFTER - MICROSECOND)

    again = services.bareme_proposal_start(exam=proposal.exam)

    assert again.pk != proposal.pk and again.status == Proposal.Status.PENDING
    assert not Proposal.objects.filter(pk=proposal.pk).exists()  # only the latest is kept


def test_a_split_proposal_that_failed_stays_failed_until_asked_again(teacher, llm_server):
    from tests.grading.test_render import _source

    exam = ExamFactory(owner=teacher)
    source = _source(exam, text_pdf(["Alice", "Bob"]), page_count=2)
    llm_server.script(json.dumps({"copies": [{"student_label": "Alice", "first_page": 1, "last_page": 3}]}))
    failed = services.split_proposal_start(source=source)
    assert proposal_run(proposal_id=failed.pk) == Proposal.Status.FAILED

    assert services.split_proposal_start(source=source).pk == failed.pk  # reopening the page pays nothing
    again = services.split_proposal_start(source=source, again=True)

    assert again.pk != failed.pk and again.status == Proposal.Status.PENDING
    assert UsageRecord.objects.count() == len(llm_server.requests) == 1
