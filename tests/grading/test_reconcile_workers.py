"""Reconciliation against real Celery workers: a worker killed mid-job (SIGKILL) and a broker
flushed under a running job lose no copy, and every copy is graded once.

The Redis flushed is this test process's own key prefix, never the shared server."""

from __future__ import annotations

import time

import pytest
from django.conf import settings as django_settings
from django.db.models import Count

from grading import services
from grading.models import Copy, Grade, GradingJob, ModelAnswer
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.deadlines import Deadline, scaled
from tests.support.servers import celery_worker_start

from .conftest import roles_env
from .test_reconcile import broker_flush

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A lease of 2 s on a quiet machine, scaled to this one's measured speed: a worker's keeper renews
# it every third of its length, and at a load of 12 a stalled thread missed a 2 s lease, so a copy
# was rescued twice (requeues 2).
LEASE_S = 2.0
QUESTIONS = 2


@pytest.fixture
def worker_env(llm_server, settings):
    settings.CORRIGO_COPY_LEASE_S = lease = scaled(LEASE_S)
    broker_flush()
    yield {**roles_env(llm_server), "CORRIGO_COPY_LEASE_S": str(lease)}
    broker_flush()


def _reconcile_until_done(copies: list[Copy], *, timeout: float) -> None:
    """The beat's work, every half second, until every copy is settled (`timeout`: the base of
    a scaled deadline, tests/support/deadlines.py)."""
    deadline = Deadline(timeout)
    ids = [copy.pk for copy in copies]
    while not deadline.expired():
        services.copies_reconcile()
        if not Copy.objects.filter(pk__in=ids, status__in=services.jobs.ACTIVE).exists():
            return
        time.sleep(0.5)


def _graded_once(copies: list[Copy]) -> None:
    ids = [copy.pk for copy in copies]
    statuses = dict(Copy.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert set(statuses.values()) == {Copy.Status.DONE}, statuses
    answers = ModelAnswer.objects.filter(copy__in=ids).values("copy").annotate(n=Count("id"))
    assert {row["copy"]: row["n"] for row in answers} == dict.fromkeys(ids, 1)
    assert Grade.objects.filter(copy__in=ids).count() == QUESTIONS * len(ids)


def test_a_killed_workers_copies_are_graded_by_another_worker_once(llm_server, worker_env, teacher, tmp_path):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=QUESTIONS)
    copies = [copy_with_pages(exam, pages=1) for _ in range(4)]
    llm_server.latency = 1.0
    doomed = celery_worker_start(tmp_path, name="doomed", concurrency=2, **worker_env)
    try:
        services.job_start(exam=exam, user=teacher)
        deadline = Deadline(60)
        while not Copy.objects.filter(pk__in=[c.pk for c in copies], status=Copy.Status.GRADING).exists():
            assert not deadline.expired(), doomed.log()[-3000:]
            time.sleep(0.05)
        doomed.process.kill()  # SIGKILL: no shutdown, nothing acknowledged, no lease renewed
        doomed.process.wait()
        held = set(Copy.objects.filter(status=Copy.Status.GRADING).values_list("pk", flat=True))
    finally:
        doomed.stop()
    assert held

    rescuer = celery_worker_start(tmp_path, name="rescuer", concurrency=2, **worker_env)
    try:
        _reconcile_until_done(copies, timeout=120)
    finally:
        rescuer.stop()

    _graded_once(copies)
    requeues = dict(Copy.objects.filter(pk__in=[c.pk for c in copies]).values_list("pk", "requeues"))
    assert all(requeues[pk] == 1 for pk in held), (held, requeues)
    assert GradingJob.objects.get(exam=exam).status == GradingJob.Status.FINISHED


def test_a_flushed_broker_loses_no_copy(llm_server, worker_env, teacher, tmp_path):
    exam = exam_with_bareme(owner=teacher, mode="single", questions=QUESTIONS)
    copies = [copy_with_pages(exam, pages=1) for _ in range(3)]
    services.job_start(exam=exam, user=teacher)  # three messages, no worker yet
    assert broker_flush() > 0  # Redis loses them
    time.sleep(django_settings.CORRIGO_COPY_LEASE_S + 0.5)  # the copies have been quiet for a lease length

    assert services.copies_reconcile().requeued == 3
    worker = celery_worker_start(tmp_path, name="after-flush", concurrency=2, **worker_env)
    try:
        _reconcile_until_done(copies, timeout=120)
    finally:
        worker.stop()

    _graded_once(copies)
    assert len(llm_server.requests) == len(copies)
    assert GradingJob.objects.get(exam=exam).status == GradingJob.Status.FINISHED
