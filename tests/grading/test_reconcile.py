"""Reconciliation: copies whose task is gone (dead worker, lost broker message) are graded again,
once; after too many rescues they fail with a reason. Real Redis (this test's own key prefix)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone, translation

from grading import services
from grading.engine.errors import TransientLLMError
from grading.models import Copy, Exam, GradingJob, ModelAnswer
from grading.services.broker import broker_copy_ids
from grading.services.holds import copy_unit
from grading.services.leases import copy_lease_take, lease_keeper
from tests.factories import copy_with_pages, exam_with_bareme
from tests.support.plans import queries_sent, query_plan
from usage.models import Reservation, UsageRecord
from usage.selectors import usage_held
from usage.services import unit_key

from .helpers import grades_json

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("french")]


def broker_flush() -> int:
    """Deletes this test process's Celery keys (its own prefix), as a flushed Redis would."""
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    prefix = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"]
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    deleted = client.delete(*keys) if keys else 0
    client.close()
    return deleted


@pytest.fixture(autouse=True)
def _empty_broker():
    broker_flush()
    yield
    broker_flush()


@pytest.fixture
def exam(teacher):
    return exam_with_bareme(owner=teacher, mode="single", questions=2)


def _started(exam, user, django_capture_on_commit_callbacks, *, copies: int = 1) -> tuple[GradingJob, list[Copy]]:
    """A running job whose copies a worker took (grading, leased), and then the worker died."""
    made = [copy_with_pages(exam, pages=1) for _ in range(copies)]
    with django_capture_on_commit_callbacks(execute=False):  # no message reaches the broker
        job = services.job_start(exam=exam, user=user)
    for copy in made:
        copy.refresh_from_db()
        assert copy.transition(
            source=[Copy.Status.QUEUED], target=Copy.Status.GRADING, lease_owner="dead-task", lease_until=timezone.now()
        )
    return job, made


def _lapse(copy: Copy, *, seconds: float = 1) -> None:
    Copy.objects.filter(pk=copy.pk).update(lease_until=timezone.now() - timedelta(seconds=seconds))


def _quiet(copy: Copy) -> None:
    """The copy last changed a lease length ago (a queued message had time to be taken)."""
    moment = timezone.now() - timedelta(seconds=django_settings.CORRIGO_COPY_LEASE_S + 1)
    Copy.objects.filter(pk=copy.pk).update(updated_at=moment)
    GradingJob.objects.filter(pk=copy.job_id).update(started_at=moment)


def test_a_copy_whose_lease_lapsed_is_graded_again_by_another_task_once(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks
):
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _lapse(copy)
    llm_server.script(grades_json([1, 2]))

    with django_capture_on_commit_callbacks(execute=True):
        done = services.copies_reconcile()

    assert done == services.Reconciled(requeued=1, failed=0, jobs_finalized=0)
    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE and copy.requeues == 1
    assert ModelAnswer.objects.filter(copy=copy).count() == 1 and len(llm_server.requests) == 1
    job.refresh_from_db()
    assert job.status == GradingJob.Status.FINISHED
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.SETTLED
    assert len(mail.outbox) == 1


def test_a_copy_whose_lease_is_alive_is_left_to_its_worker(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    Copy.objects.filter(pk=copy.pk).update(lease_until=timezone.now() + timedelta(seconds=1))

    assert services.copies_reconcile() == services.Reconciled()

    copy.refresh_from_db()
    assert copy.status == Copy.Status.GRADING and copy.lease_owner == "dead-task" and copy.requeues == 0
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.HELD


def test_a_second_delivery_cannot_take_a_copy_whose_lease_is_alive_but_its_owner_can(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    Copy.objects.filter(pk=copy.pk).update(lease_until=timezone.now() + timedelta(seconds=30))

    assert not copy_lease_take(copy_id=copy.pk, owner="another-task")
    assert copy_lease_take(copy_id=copy.pk, owner="dead-task")  # its own retry
    _lapse(copy)
    assert copy_lease_take(copy_id=copy.pk, owner="another-task")
    assert Copy.objects.get(pk=copy.pk).lease_owner == "another-task"


def test_the_keeper_renews_the_leases_its_process_holds_and_only_those(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    _job, [mine, theirs] = _started(exam, teacher, django_capture_on_commit_callbacks, copies=2)
    Copy.objects.filter(pk=mine.pk).update(lease_owner="my-task")
    for copy in (mine, theirs):
        _lapse(copy, seconds=5)
    lease_keeper.hold(copy_id=mine.pk, owner="my-task")
    try:
        assert lease_keeper.renew() == 1
    finally:
        lease_keeper.release(owner="my-task")

    assert Copy.objects.get(pk=mine.pk).lease_until > timezone.now()
    assert Copy.objects.get(pk=theirs.pk).lease_until < timezone.now()


def test_a_copy_rescued_too_often_fails_with_a_reason_and_its_job_finishes(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, settings
):
    settings.CORRIGO_COPY_REQUEUES_MAX = 2
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    for rescued in (1, 2):
        _lapse(copy)
        with django_capture_on_commit_callbacks(execute=False):
            assert services.copies_reconcile().requeued == 1
        # Another worker takes it, and dies too.
        assert Copy.objects.get(pk=copy.pk).requeues == rescued
        Copy.objects.get(pk=copy.pk).transition(
            source=[Copy.Status.QUEUED], target=Copy.Status.GRADING, lease_owner=f"dead-{rescued}"
        )
    _lapse(copy)

    assert services.copies_reconcile() == services.Reconciled(requeued=0, failed=1, jobs_finalized=0)

    copy.refresh_from_db()
    assert copy.status == Copy.Status.FAILED
    assert copy.failure_text.startswith("La correction de cette copie a été interrompue 3 fois")
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.SETTLED
    assert Exam.objects.get(pk=exam.pk).status == Exam.Status.GRADED


def test_a_rerun_starts_the_rescue_count_again(
    llm_server, eager_celery, exam, teacher, django_capture_on_commit_callbacks, settings
):
    settings.CORRIGO_COPY_REQUEUES_MAX = 0
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _lapse(copy)
    assert services.copies_reconcile().failed == 1
    llm_server.script(grades_json([1, 2]))

    with django_capture_on_commit_callbacks(execute=True):
        services.copy_rerun(copy=Copy.objects.get(pk=copy.pk))

    copy.refresh_from_db()
    assert copy.status == Copy.Status.DONE and copy.requeues == 0 and copy.failure_reason == ""


def test_the_reason_is_in_english_for_an_english_speaking_teacher(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, settings
):
    settings.CORRIGO_COPY_REQUEUES_MAX = 0
    teacher.language = "en"
    teacher.save()
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _lapse(copy)

    services.copies_reconcile()

    copy.refresh_from_db()
    with translation.override("en"):
        assert copy.failure_text.startswith("Grading of this copy was interrupted")
        assert "re-run" in copy.failure_text


def test_a_copy_of_a_cancelled_job_is_failed_not_graded_again(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    services.job_cancel(job=job)
    _lapse(copy)

    assert services.copies_reconcile() == services.Reconciled(requeued=0, failed=1, jobs_finalized=0)
    assert Copy.objects.get(pk=copy.pk).status == Copy.Status.FAILED


def test_queued_copies_whose_messages_were_flushed_from_the_broker_are_enqueued_again(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    copies = [copy_with_pages(exam, pages=1) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):  # three messages in the broker
        services.job_start(exam=exam, user=teacher)
    for copy in copies:
        _quiet(copy)
    ids = {copy.pk for copy in copies}
    assert broker_copy_ids(delivered_within=60) == ids

    assert services.copies_reconcile() == services.Reconciled()  # every copy has its message

    assert broker_flush() > 0
    assert broker_copy_ids(delivered_within=60) == set()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.copies_reconcile().requeued == 3

    assert broker_copy_ids(delivered_within=60) == ids
    assert all(copy.requeues == 1 for copy in Copy.objects.filter(pk__in=ids))
    # Changed just now: the next pass waits a lease length before looking again.
    assert services.copies_reconcile() == services.Reconciled()


def test_a_queued_copy_changed_less_than_a_lease_ago_is_not_enqueued_twice(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    copy_with_pages(exam, pages=1)
    with django_capture_on_commit_callbacks(execute=False):  # committed, not yet published
        services.job_start(exam=exam, user=teacher)

    assert services.copies_reconcile() == services.Reconciled()


def test_a_job_left_running_with_no_active_copy_is_finalized_once(
    llm_server, exam, teacher, django_capture_on_commit_callbacks
):
    job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    # The worker settled the copy, then died before ending the job.
    Copy.objects.filter(pk=copy.pk).update(status=Copy.Status.DONE)
    _quiet(copy)

    assert services.copies_reconcile() == services.Reconciled(jobs_finalized=1)
    assert services.copies_reconcile() == services.Reconciled()
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.FINISHED
    assert len(mail.outbox) == 1


def test_the_beat_reconciles_every_minute(settings):
    from config.celery import app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "grading.copies_reconcile")
    assert entry["schedule"] == 60.0
    assert "grading.copies_reconcile" in app.tasks
    # A lost copy waits at most a lease plus a beat period: under the five minutes promised.
    assert settings.CORRIGO_COPY_LEASE_S + entry["schedule"] < 5 * 60


def test_an_execution_that_lost_its_lease_mid_copy_stops_before_paying_the_next_round(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, monkeypatch, settings
):
    from grading.services import leases

    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _lapse(copy)
    llm_server.script(fault="truncated")  # the first answer needs a repair round
    takes = iter([True, True, False])  # taken at start, for round 1; another execution has it by round 2
    monkeypatch.setattr(leases, "copy_lease_take", lambda **kwargs: next(takes))
    # The execution stalls a whole lease between two looks at its clock.
    stalls = itertools.count(0.0, settings.CORRIGO_COPY_LEASE_S)
    monkeypatch.setattr(leases, "lease_clock", lambda: next(stalls))

    outcome = services.copy_grade(copy_id=copy.pk, job_id=copy.job_id, attempt=copy.attempt, lease_owner="stalled")

    assert outcome == "taken" and len(llm_server.requests) == 1
    assert Copy.objects.get(pk=copy.pk).status == Copy.Status.GRADING  # left to its new holder


def test_a_copy_failed_by_the_reconciliation_while_its_job_runs_on_gives_back_what_it_held(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, settings
):
    settings.CORRIGO_COPY_REQUEUES_MAX = 0
    made = [copy_with_pages(exam, pages=1) for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=False):
        job = services.job_start(exam=exam, user=teacher)
    lost, other = (Copy.objects.get(pk=copy.pk) for copy in made)
    # Its task holds the round's worst case, pays a truncated answer, and its repair meets a
    # provider error: the task would retry later, holding the copy's tokens meanwhile. Its
    # worker dies before the retry.
    llm_server.script(fault="truncated")
    llm_server.script(fault="500")
    with pytest.raises(TransientLLMError):
        services.copy_grade(copy_id=lost.pk, job_id=job.pk, attempt=lost.attempt, lease_owner="dead-task")
    unit = Reservation.objects.get(key=unit_key(pool_key=job.reservation_key, unit=copy_unit(lost)))
    spent = sum(UsageRecord.objects.filter(copy=lost).values_list("total_tokens", flat=True))
    assert unit.state == Reservation.State.HELD and unit.tokens > spent > 0
    held_before = usage_held(user=teacher)
    _lapse(lost)

    assert services.copies_reconcile() == services.Reconciled(requeued=0, failed=1, jobs_finalized=0)

    lost.refresh_from_db()
    assert lost.status == Copy.Status.FAILED and lost.lease_owner == "" and lost.lease_until is None
    unit.refresh_from_db()
    assert unit.state == Reservation.State.SETTLED and unit.tokens_used == spent
    assert unit.outcome == Reservation.Outcome.FAILED
    # What it held beyond its spending is back: the other copy of the allowance does not wait.
    assert usage_held(user=teacher) == held_before - (unit.tokens - spent)
    assert GradingJob.objects.get(pk=job.pk).status == GradingJob.Status.RUNNING
    assert Copy.objects.get(pk=other.pk).status == Copy.Status.QUEUED
    assert Reservation.objects.get(key=job.reservation_key).state == Reservation.State.HELD


@pytest.mark.parametrize(("age", "takes"), [(0.0, 0), (9.99, 0), (10.0, 1)])
def test_a_round_within_a_third_of_a_lease_of_its_take_goes_on_without_taking_it_again(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, monkeypatch, settings, age, takes
):
    """Taken less than a third of a lease ago (30 s: 10 s), the lease cannot have lapsed
    (nobody takes a live one): the copy's rounds are paid without a statement; a third of a
    lease later or more, it is taken again (as when the execution stalled), then fresh again."""
    from grading.services import leases

    settings.CORRIGO_COPY_LEASE_S = 30
    _job, [copy] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _lapse(copy)
    llm_server.script(fault="truncated")  # the first answer needs a repair round
    taken = []
    take = leases.copy_lease_take
    monkeypatch.setattr(leases, "copy_lease_take", lambda **kwargs: taken.append(kwargs) or take(**kwargs))
    # The start's take at 0 s; every later look at the clock `age` seconds after it.
    ticks = iter([0.0])
    monkeypatch.setattr(leases, "lease_clock", lambda: next(ticks, age))

    outcome = services.copy_grade(copy_id=copy.pk, job_id=copy.job_id, attempt=copy.attempt, lease_owner="worker")

    assert outcome == Copy.Status.DONE and len(llm_server.requests) == 2  # the round and its repair
    assert len(taken) == 1 + takes  # the start's take, then the first round's when 10 s had passed


@pytest.mark.parametrize(
    ("copies", "batches"),
    [(0, []), (8, [8]), (9, [8, 1]), (72, [8, 64]), (73, [8, 64, 1]), (200, [8, 64, 64, 64])],
)
def test_a_launch_cuts_its_messages_in_a_small_first_batch_then_larger_ones(copies, batches):
    """The first ENQUEUE_FIRST (8) messages leave alone, so the workers start while the others
    are built; then ENQUEUE_BATCH (64) at a time; every copy once, in order."""
    from grading.services.jobs import enqueue_batches

    ids = list(range(copies))
    cut = enqueue_batches(ids)

    assert [len(batch) for batch in cut] == batches
    assert [copy_id for batch in cut for copy_id in batch] == ids


def test_a_launch_sends_its_copies_to_the_broker_in_a_few_round_trips(
    llm_server, exam, teacher, django_capture_on_commit_callbacks, monkeypatch
):
    """A class's messages go in Redis pipelines, the first batch before the next is built, every
    copy's message in one of them (counted on the wire: the commands the connection sends,
    wrapped, not replaced). Batches of 2 then 3 here, for a class of 6."""
    from redis.connection import Connection

    from grading.services import jobs

    monkeypatch.setattr(jobs, "ENQUEUE_FIRST", 2)
    monkeypatch.setattr(jobs, "ENQUEUE_BATCH", 3)
    copies = [copy_with_pages(exam, pages=1) for _ in range(6)]
    sent: list[int] = []
    send = Connection.send_packed_command

    def counted(self, command, check_health=True):
        chunks = [command] if isinstance(command, (bytes, str)) else list(command)
        data = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in chunks)
        if b"LPUSH" in data:
            sent.append(data.count(b"LPUSH"))
        return send(self, command, check_health)

    monkeypatch.setattr(Connection, "send_packed_command", counted)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_start(exam=exam, user=teacher)
    monkeypatch.undo()

    assert sent == [2, 3, 1]  # three round trips, the first one carrying two messages only
    assert broker_copy_ids(delivered_within=60) == {copy.pk for copy in copies}


def test_the_beats_scans_read_the_unsettled_copies_alone(llm_server, exam, teacher, django_capture_on_commit_callbacks):
    """Every minute (reconciliation) and every 15 minutes (copies waiting for allowance) the beat
    looks for copies not settled yet among every copy ever graded: 2 million at 10× after 20
    days, where a sequential scan took 142 ms a minute and grew with the table. They read the
    copy_unsettled partial index, and still rescue the copy whose worker died."""
    graded = Exam.objects.create(owner=teacher, title="Contrôle déjà corrigé")
    Copy.objects.bulk_create(Copy(exam=graded, student_label=f"Élève {n}", status=Copy.Status.DONE) for n in range(300))
    _job, [lost] = _started(exam, teacher, django_capture_on_commit_callbacks)
    _lapse(lost)

    with django_capture_on_commit_callbacks(execute=False):
        sent = queries_sent(services.copies_reconcile, table="grading_copy")
    # The copies whose lease lapsed, and the queued ones unchanged for a lease length.
    [lapsed] = [sql for sql in sent if '"grading_copy"."lease_until" <' in sql]
    [quiet] = [sql for sql in sent if '"grading_copy"."status" = \'queued\'' in sql]
    assert "copy_unsettled" in query_plan(lapsed) and "copy_unsettled" in query_plan(quiet)
    assert Copy.objects.get(pk=lost.pk).status == Copy.Status.QUEUED  # rescued: enqueued again
    [waiting] = queries_sent(services.deferred_resume_all, table="accounts_user", containing="deferred")
    assert "copy_unsettled" in query_plan(waiting)
