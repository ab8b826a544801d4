"""Grading jobs: start (reserve tokens, one task per copy; or as many copies as the allowance
takes, the rest queued for later), re-run a copy, cancel, finalize.

Copies a lost worker or a lost broker message left behind: services.reconcile.

A job = one Celery task per copy (tasks.copy_grade_task, see services.copy_grading) + a
finalize step run by whichever copy settles last. Every state change is a conditional UPDATE
(Copy/GradingJob/Exam.transition), so a redelivered task or two copies finishing together
cannot settle a reservation or email the teacher twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from usage.selectors import usage_summary
from usage.services import (
    QuotaExceeded,
    usage_reserve,
    usage_settle,
    usage_units_prehold,
    usage_units_settle,
)

from ..errors import WorkflowError
from ..models import Copy, Exam, GradingJob
from ..selectors.exams import copy_held_for_calibration, gradable_copies
from ..tasks import copy_grade_task
from .estimate import CopyLine, JobEstimate, copy_estimate_tokens, job_estimate, reservation_for, slot_configs
from .events import job_finished_notify, progress_push
from .subject_pages import subject_pages_ensure

logger = logging.getLogger(__name__)

ACTIVE = (Copy.Status.QUEUED, Copy.Status.GRADING, Copy.Status.VERIFYING)

# A launch's messages go to the broker in batches, each one Redis round trip: the first
# ENQUEUE_FIRST at once, so the workers start on them while the launch builds the others
# (Celery takes about 0.5 ms of CPU a message on a 2-core VM: in a single batch, 300 copies
# kept the first one waiting 0.12-0.28 s for the last message), then ENQUEUE_BATCH at a time.
ENQUEUE_FIRST = 8
ENQUEUE_BATCH = 64


def enqueue_batches(ids: Sequence[int]) -> list[Sequence[int]]:
    """`ids` cut as a launch sends them: ENQUEUE_FIRST, then ENQUEUE_BATCH at a time."""
    batches = [ids[:ENQUEUE_FIRST]] if ids else []
    batches += [ids[start : start + ENQUEUE_BATCH] for start in range(ENQUEUE_FIRST, len(ids), ENQUEUE_BATCH)]
    return batches


def copies_enqueue(*, job_id: int, attempts: dict[int, int], ids: Sequence[int]) -> None:
    """The copy tasks of a launch (`attempts`: each copy's attempt, by id), in a few round trips
    to the broker (kombu's publish batch, a Redis pipeline each: enqueue_batches), not one each:
    300 copies took 0.5-0.75 s of the launch request one by one, on the cores the workers start
    grading on (issue 18). A message lost with its batch is enqueued again by the reconciliation
    (services.reconcile)."""
    with copy_grade_task.app.producer_or_acquire() as producer:
        for batch in enqueue_batches(ids):
            with producer.batch():
                for copy_id in batch:
                    copy_grade_task.apply_async((copy_id, job_id, attempts[copy_id]), producer=producer)


def copy_unit_of(*, copy_id: int, attempt: int) -> str:
    """A copy's attempt as a unit of its job's reservation (usage.services.usage_hold)."""
    return f"c{copy_id}:{attempt}"


def _job_create(
    *,
    exam: Exam,
    user: User,
    copies: Sequence[Copy],
    estimate_tokens: int,
    overwrite_edits: bool = False,
    regrade: bool = False,
    later: Sequence[int] = (),
    lines: Sequence[CopyLine] = (),
) -> GradingJob:
    """`lines`: the copies' estimate, when known: the reservation gives their first rounds
    to the copies at once, in order while it covers them (usage_units_prehold)."""
    key = f"job-{exam.pk}-{uuid.uuid4().hex[:16]}"
    try:
        with transaction.atomic():
            usage_reserve(user=user, key=key, tokens=estimate_tokens, exam=exam)
            job = GradingJob.objects.create(
                exam=exam,
                created_by=user,
                total_copies=len(copies),
                estimated_tokens=estimate_tokens,
                reservation_key=key,
                regrade=regrade,
            )
            ids = [copy.pk for copy in copies]
            Copy.objects.filter(pk__in=ids).update(
                job=job,
                status=Copy.Status.QUEUED,
                attempt=F("attempt") + 1,
                failure_reason="",
                requeues=0,
                regrade_overwrite=overwrite_edits,
            )
            if later:
                Copy.objects.filter(pk__in=later, status__in=Copy.STARTABLE).update(
                    status=Copy.Status.DEFERRED, failure_reason="", updated_at=timezone.now()
                )
            exam.transition(
                source=(Exam.Status.DRAFT, Exam.Status.GRADED, Exam.Status.CANCELLED), target=Exam.Status.GRADING
            )
            attempts = dict(Copy.objects.filter(pk__in=ids).values_list("pk", "attempt"))
            usage_units_prehold(
                pool_key=key,
                units=[
                    (copy_unit_of(copy_id=line.copy_id, attempt=attempts[line.copy_id]), line.first)
                    for line in lines
                    if line.copy_id in attempts
                ],
            )

            transaction.on_commit(lambda: copies_enqueue(job_id=job.pk, attempts=attempts, ids=ids))
    except IntegrityError as exc:
        raise WorkflowError(_("Une correction est déjà en cours pour cet examen.")) from exc
    # Rendered once on the render queue for every worker's prompts (enqueued when the subject was
    # stored; again if the cache lost them): meanwhile a worker renders them itself.
    subject_pages_ensure(exam=exam)
    transaction.on_commit(lambda: progress_push(exam))
    return job


def job_start(*, exam: Exam, user: User, copy_ids: Sequence[int] | None = None, partial: bool = False) -> GradingJob:
    """Reserves the tokens and enqueues one task per gradable copy (of `copy_ids`, the
    teacher's selection, when given).

    The reservation is each copy's estimate plus one copy's margin up to its worst case
    (estimate.reservation_for). `partial`: when the allowance cannot take them all, the
    copies it takes, in upload order, start and the others wait as « en attente
    d'allocation » (services.deferred starts them when the allowance comes back).

    Raises QuotaExceeded (not even one copy fits with `partial`), ModelMisconfigured, or
    WorkflowError (files purged, no barème, no copy ready, a job already running).
    """
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers des élèves ont été supprimés : correction impossible."))
    if not exam.questions.exists():
        raise WorkflowError(_("Le barème est vide : ajoutez au moins une question avant de lancer la correction."))
    estimate = job_estimate(exam=exam, copy_ids=copy_ids)
    by_id = {copy.pk: copy for copy in gradable_copies(exam)}
    copies = [by_id[line.copy_id] for line in estimate.lines]
    if copy_ids is not None and not copies:
        raise WorkflowError(_("Aucune des copies choisies ne peut être corrigée maintenant."))
    if not copies:
        # Say why: "pages not prepared" was shown even when every copy was already graded.
        if not exam.copies.exists():
            raise WorkflowError(_("Aucune copie : déposez d'abord les copies des élèves."))
        if not exam.copies.filter(status__in=Copy.STARTABLE).exists():
            raise WorkflowError(
                _(
                    "Toutes les copies sont déjà corrigées. Pour en corriger une à nouveau, "
                    "ouvrez-la et choisissez « Corriger à nouveau »."
                )
            )
        raise WorkflowError(_("Aucune copie prête à corriger (pages non encore préparées ?)."))
    lines = estimate.lines
    if partial:
        # Read without the lock: usage_reserve checks again under it and refuses if a
        # concurrent start took the room meanwhile.
        remaining = usage_summary(user=user).remaining
        taken = estimate.fitting(remaining)
        if taken == 0:
            raise QuotaExceeded(needed=reservation_for(lines[:1]), remaining=remaining)
        lines = lines[:taken]
    later = [line.copy_id for line in estimate.lines[len(lines) :]]
    return _job_create(
        exam=exam,
        user=user,
        copies=copies[: len(lines)],
        estimate_tokens=reservation_for(lines),
        later=later,
        lines=lines,
    )


def job_start_copies(*, exam: Exam, user: User, copies: Sequence[Copy], estimate: JobEstimate) -> GradingJob:
    """A job of exactly these copies, graded ones too, all or none (a calibration round,
    services.calibration, whose caller estimated them: `estimate`'s reservation is reserved).

    Raises QuotaExceeded or WorkflowError (files purged, a job already running)."""
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers des élèves ont été supprimés : correction impossible."))
    return _job_create(exam=exam, user=user, copies=copies, estimate_tokens=estimate.reservation, lines=estimate.lines)


def copy_rerun(*, copy: Copy, overwrite_edits: bool = False) -> GradingJob:
    """Grades one copy again (a new attempt), in the running job or a new one: a failed,
    quota-reached or cancelled copy, or a graded one the teacher sends back. The engine's
    grades replace its own earlier ones; the teacher's edited points, feedback and
    appréciation are kept unless `overwrite_edits` (grade_writing.copy_grades_write)."""
    if copy.status not in Copy.REGRADABLE:
        raise WorkflowError(_("Cette copie est en cours de correction : attendez qu'elle soit terminée."))
    if copy_held_for_calibration(copy=copy):
        raise WorkflowError(
            _("Cette copie attend vos notes de calibration : l'IA la corrigera quand vous les aurez données.")
        )
    exam = copy.exam
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers de cette copie ont été supprimés : elle ne peut plus être corrigée."))
    tokens = copy_estimate_tokens(copy, configs=slot_configs(exam))
    running = exam.jobs.filter(status=GradingJob.Status.RUNNING).first()
    if running is None:
        return _job_create(
            exam=exam,
            user=exam.owner,
            copies=[copy],
            estimate_tokens=tokens,
            overwrite_edits=overwrite_edits,
            regrade=True,
        )
    with transaction.atomic():
        if not copy.transition(
            source=Copy.REGRADABLE,
            target=Copy.Status.QUEUED,
            job=running,
            failure_reason="",
            attempt=F("attempt") + 1,
            requeues=0,
            regrade_overwrite=overwrite_edits,
        ):
            raise WorkflowError(_("La copie a changé d'état entre-temps."))
        GradingJob.objects.filter(pk=running.pk).update(total_copies=F("total_copies") + 1)
        copy.refresh_from_db(fields=["attempt"])
        attempt = copy.attempt
        transaction.on_commit(lambda: copy_grade_task.delay(copy.pk, running.pk, attempt))
    transaction.on_commit(lambda: progress_push(exam, copies=[copy.pk]))
    return running


def job_cancel(*, job: GradingJob) -> bool:
    """Stops a running job: queued copies are cancelled (and the exam's copies waiting for the
    allowance), copies in flight finish their call. True only for the call that cancelled it."""
    now = timezone.now()
    with transaction.atomic():  # as job_finalize: what the job held frees other exams' waiting copies on commit
        if not job.transition(source=[GradingJob.Status.RUNNING], target=GradingJob.Status.CANCELLED, finished_at=now):
            return False
        # Locked: a copy's task cannot start one of them meanwhile (its transition waits, then fails).
        queued = list(job.copies.select_for_update().filter(status=Copy.Status.QUEUED).values_list("pk", "attempt"))
        job.copies.filter(pk__in=[pk for pk, _attempt in queued]).update(status=Copy.Status.CANCELLED, updated_at=now)
        # What the start gave them for their first round (usage_units_prehold) goes back now; copies
        # in flight settle theirs when their call ends.
        usage_units_settle(
            pool_key=job.reservation_key,
            outcome="cancelled",
            units=[copy_unit_of(copy_id=pk, attempt=attempt) for pk, attempt in queued],
        )
        # The teacher stopped the exam's grading: the copies a partial launch left waiting stop too
        # (else the next plan change would start them behind the teacher's back).
        job.exam.copies.filter(status=Copy.Status.DEFERRED).update(status=Copy.Status.CANCELLED, updated_at=now)
        job.exam.transition(source=[Exam.Status.GRADING], target=Exam.Status.CANCELLED)
        usage_settle(key=job.reservation_key, outcome="cancelled")
    progress_push(job.exam, final=True)
    return True


def job_finalize(*, job: GradingJob) -> bool:
    """Ends a job whose copies are all settled. True only for the call that ended it."""
    now = timezone.now()
    # One transaction: the copies a partial launch left waiting resume on its commit
    # (allowance_released, grading.receivers), once the exam is no longer « grading » and every
    # unit has given back what it held (settled first).
    with transaction.atomic():
        if not job.transition(source=[GradingJob.Status.RUNNING], target=GradingJob.Status.FINISHED, finished_at=now):
            return False
        usage_units_settle(pool_key=job.reservation_key, outcome="finished")
        usage_settle(key=job.reservation_key, outcome="finished")
        job.exam.transition(source=[Exam.Status.GRADING], target=Exam.Status.GRADED)
    progress_push(job.exam, final=True)
    job_finished_notify(job=job)
    return True


def job_maybe_finish(*, job_id: int) -> None:
    """Finalizes the job once none of its copies is queued or being graded any more."""
    # The job's status and whether a copy of it is still active, in one read (one snapshot); the
    # job itself is read only when it ends (job_finalize's transition checks its status again).
    active = Exists(Copy.objects.filter(job_id=OuterRef("pk"), status__in=ACTIVE))
    status, busy = GradingJob.objects.filter(pk=job_id).values_list("status", active).get()
    if status == GradingJob.Status.RUNNING and not busy:
        job_finalize(job=GradingJob.objects.select_related("exam", "exam__owner", "created_by").get(pk=job_id))
