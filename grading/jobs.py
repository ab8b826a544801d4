"""Grading job services: estimate, start, grade one copy, finalize, cancel, re-run.

A job = one Celery task per copy (grading.tasks.copy_grade_task) + a finalize step run by
whichever copy finishes last. Every state change is a conditional UPDATE (Copy.transition,
GradingJob status filters), and every model call is stored under unique keys (ModelAnswer
per copy/attempt/phase/role, UsageRecord.idempotency_key), so a redelivered or retried task
reuses what was already paid for and never grades a copy twice.
"""

from __future__ import annotations

import logging
import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.services import user_language_override
from usage.selectors import PriceCard, PriceMissing, price_card
from usage.services import usage_job_may_continue, usage_record, usage_reserve, usage_settle

from .engine.asking import Reply, Request, reply_parse
from .engine.config import RoleConfig, role_check, role_config, roles_for_mode
from .engine.errors import EngineError, ModelMisconfigured, TransientLLMError
from .engine.grader import PhaseRun, grade_copy
from .engine.llm import LLMResult, llm_complete
from .engine.prompts import exam_context, prompt_tokens_estimate
from .engine.render import local_copy, pdf_pages
from .engine.schema import parse_copy_grades
from .errors import WorkflowError
from .models import Copy, Exam, Grade, GradingJob, ModelAnswer, Page

logger = logging.getLogger(__name__)

ACTIVE = (Copy.Status.QUEUED, Copy.Status.GRADING, Copy.Status.VERIFYING)
STARTABLE = (Copy.Status.QUEUED, *Copy.RERUNNABLE)
SLOTS = {"grader_a": "a", "grader_b": "b"}
# Image tokens per page as each provider counts a 990 × 1400 JPEG (see engine.render).
IMAGE_TOKENS = {"anthropic": 1850, "gemini": 1032, "vertex_ai": 1032}
IMAGE_TOKENS_DEFAULT = 1105
COMPLETION_TOKENS_PER_QUESTION = 160
VERIFICATION_SHARE = 0.3  # expected share of double-corrected copies needing a verification round


@dataclass(frozen=True)
class JobEstimate:
    tokens: int
    cost_usd: Decimal
    calls: int
    copies: int = 0

    @property
    def tokens_per_copy(self) -> int:
        return math.ceil(self.tokens / self.copies) if self.copies else 0


def gradable_copies(exam: Exam):
    return exam.copies.filter(status__in=STARTABLE).annotate(page_total=Count("pages")).filter(page_total__gt=0)


def role_ready(role: str) -> RoleConfig:
    """The role's configuration with its model, key and price checked, or ModelMisconfigured."""
    config = role_check(role)
    try:
        price_card(config.model)
    except PriceMissing as exc:
        raise ModelMisconfigured(str(exc)) from exc
    return config


def _configs(exam: Exam, *, checked: bool = True) -> dict[str, RoleConfig]:
    """Each slot's model, checked (model, key, price): ModelMisconfigured before anything starts.

    Copy tasks skip the check (`checked=False`): the job start checked it moments ago."""
    get = role_ready if checked else role_config
    return {SLOTS[role]: get(role) for role in roles_for_mode(exam.mode)}


def _copy_estimate(
    exam: Exam,
    configs: dict[str, RoleConfig],
    *,
    pages: int,
    prefix: int,
    questions: int | None = None,
    cost=True,
    cards: dict[str, PriceCard] | None = None,
) -> tuple[int, Decimal]:
    """One copy's tokens and cost. Callers looping over copies pass `questions` and `cards`
    (computed once), so an estimate of a class costs no query per copy."""
    questions = exam.questions.count() if questions is None else questions
    completion = 100 + COMPLETION_TOKENS_PER_QUESTION * questions
    tokens, total = 0, Decimal(0)
    for config in configs.values():
        image = IMAGE_TOKENS.get(config.provider, IMAGE_TOKENS_DEFAULT)
        prompt = prefix + pages * (image + 150) + 200
        calls = 1.0 + (VERIFICATION_SHARE if len(configs) > 1 else 0.0)
        call_tokens = int((prompt + completion) * calls)
        tokens += call_tokens
        if cost:
            card = cards[config.model] if cards is not None else price_card(config.model)
            total += (card.input * int(prompt * calls)) + (card.output * int(completion * calls))
    return tokens, total


def job_estimate(*, exam: Exam) -> JobEstimate:
    """Tokens, cost (USD, without caching discounts) and calls to grade the gradable copies."""
    configs = _configs(exam)
    prefix = prompt_tokens_estimate(exam_context(exam, render_subject=False), image_tokens=IMAGE_TOKENS_DEFAULT)
    questions = exam.questions.count()
    cards = {config.model: price_card(config.model) for config in configs.values()}
    tokens, cost, copies = 0, Decimal(0), 0
    for copy in gradable_copies(exam):
        copy_tokens, copy_cost = _copy_estimate(
            exam, configs, pages=copy.page_total, prefix=prefix, questions=questions, cards=cards
        )
        tokens += copy_tokens
        cost += copy_cost
        copies += 1
    per_copy_calls = len(configs) * (1 + (VERIFICATION_SHARE if len(configs) > 1 else 0))
    return JobEstimate(
        tokens=tokens,
        cost_usd=cost.quantize(Decimal("0.0001")),
        calls=math.ceil(copies * per_copy_calls),
        copies=copies,
    )


def _job_create(*, exam: Exam, user, copies: list[Copy], estimate_tokens: int) -> GradingJob:
    from .tasks import copy_grade_task

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
            )
            ids = [copy.pk for copy in copies]
            Copy.objects.filter(pk__in=ids).update(
                job=job, status=Copy.Status.QUEUED, attempt=F("attempt") + 1, failure_reason=""
            )
            Exam.objects.filter(pk=exam.pk).update(status=Exam.Status.GRADING)
            attempts = dict(Copy.objects.filter(pk__in=ids).values_list("pk", "attempt"))

            def enqueue() -> None:
                for copy_id in ids:
                    copy_grade_task.delay(copy_id, job.pk, attempts[copy_id])

            transaction.on_commit(enqueue)
    except IntegrityError as exc:
        raise EngineError(_("Une correction est déjà en cours pour cet examen.")) from exc
    transaction.on_commit(lambda: _progress(exam))
    return job


def job_start(*, exam: Exam, user) -> GradingJob:
    """Reserves the estimated tokens and enqueues one task per gradable copy.

    Raises usage.services.QuotaExceeded, ModelMisconfigured, or EngineError (no copy, no
    barème, a job already running), WorkflowError (the students' files were purged).
    """
    if exam.files_purged_at is not None:
        raise WorkflowError(_("Les fichiers des élèves ont été supprimés : correction impossible."))
    if not exam.questions.exists():
        raise EngineError(_("Le barème est vide : ajoutez au moins une question avant de lancer la correction."))
    estimate = job_estimate(exam=exam)
    copies = list(gradable_copies(exam))
    if not copies:
        # Say why: "pages not prepared" was shown even when every copy was already graded.
        if not exam.copies.exists():
            raise EngineError(_("Aucune copie : déposez d'abord les copies des élèves."))
        if not exam.copies.filter(status__in=STARTABLE).exists():
            raise EngineError(
                _(
                    "Toutes les copies sont déjà corrigées. Pour en corriger une à nouveau, "
                    "ouvrez-la et choisissez « Corriger à nouveau »."
                )
            )
        raise EngineError(_("Aucune copie prête à corriger (pages non encore préparées ?)."))
    return _job_create(exam=exam, user=user, copies=copies, estimate_tokens=estimate.tokens)


def copy_rerun(*, copy: Copy) -> GradingJob:
    """Re-runs one failed / quota-reached / cancelled copy, in the running job or a new one."""
    if copy.status not in Copy.RERUNNABLE:
        raise EngineError(_("Seule une copie en échec, annulée ou bloquée par le quota peut être relancée."))
    exam = copy.exam
    tokens = copy_estimate_tokens(copy, configs=_configs(exam))
    running = exam.jobs.filter(status=GradingJob.Status.RUNNING).first()
    if running is None:
        return _job_create(exam=exam, user=exam.owner, copies=[copy], estimate_tokens=tokens)
    from .tasks import copy_grade_task

    with transaction.atomic():
        if not copy.transition(source=Copy.RERUNNABLE, target=Copy.Status.QUEUED, job=running, failure_reason=""):
            raise EngineError(_("La copie a changé d'état entre-temps."))
        Copy.objects.filter(pk=copy.pk).update(attempt=F("attempt") + 1)
        GradingJob.objects.filter(pk=running.pk).update(total_copies=F("total_copies") + 1)
        copy.refresh_from_db(fields=["attempt"])
        attempt = copy.attempt
        transaction.on_commit(lambda: copy_grade_task.delay(copy.pk, running.pk, attempt))
    transaction.on_commit(lambda: _progress(exam))
    return running


def job_cancel(*, job: GradingJob) -> GradingJob:
    """Stops a running job: queued copies are cancelled, copies in flight finish their call."""
    updated = GradingJob.objects.filter(pk=job.pk, status=GradingJob.Status.RUNNING).update(
        status=GradingJob.Status.CANCELLED, finished_at=timezone.now()
    )
    if updated:
        job.copies.filter(status=Copy.Status.QUEUED).update(status=Copy.Status.CANCELLED)
        Exam.objects.filter(pk=job.exam_id, status=Exam.Status.GRADING).update(status=Exam.Status.READY)
        if job.reservation_key:
            usage_settle(key=job.reservation_key)
        _progress(job.exam, final=True)
    job.refresh_from_db()
    return job


def job_finalize(*, job: GradingJob) -> bool:
    """Ends a job whose copies are all settled. True only for the call that ended it."""
    updated = GradingJob.objects.filter(pk=job.pk, status=GradingJob.Status.RUNNING).update(
        status=GradingJob.Status.FINISHED, finished_at=timezone.now()
    )
    if not updated:
        return False
    if job.reservation_key:
        usage_settle(key=job.reservation_key)
    Exam.objects.filter(pk=job.exam_id, status=Exam.Status.GRADING).update(status=Exam.Status.GRADED)
    job.refresh_from_db()
    _progress(job.exam, final=True)
    from .notifications import job_finished_notify

    try:
        job_finished_notify(job=job)
    except Exception:  # the email is a courtesy: a mail server outage must not fail the job
        logger.exception("job-finished email failed", extra={"job": job.pk})
    return True


def _job_maybe_finish(job_id: int) -> None:
    job = GradingJob.objects.select_related("exam").get(pk=job_id)
    if job.status == GradingJob.Status.RUNNING and not job.copies.filter(status__in=ACTIVE).exists():
        job_finalize(job=job)


def _progress(exam: Exam, *, final: bool = False) -> None:
    from .progress import progress_send

    try:
        progress_send(exam=exam, final=final)
    except Exception:  # progress is best effort; the page reload shows the state from the DB
        logger.exception("progress event failed", extra={"exam": exam.pk})


# --- One copy -------------------------------------------------------------------------


def _store(
    copy: Copy, job: GradingJob, *, phase: str, slot: str, repair: bool, result: LLMResult, reply: Reply
) -> Reply:
    """The audit row and the ledger row of one call, together or not at all."""
    try:
        with transaction.atomic():
            usage_record(
                user=job.created_by,
                exam=copy.exam,
                copy=copy,
                phase="repair" if repair else phase,
                model=result.model,
                **result.ledger_tokens,
                idempotency_key=f"copy:{copy.pk}:{copy.attempt}:{phase}:{slot}" + (":repair" if repair else ""),
                reservation_key=job.reservation_key or None,
            )
            ModelAnswer.objects.create(
                copy=copy,
                attempt=copy.attempt,
                phase=phase,
                slot=slot,
                repair=repair,
                model=result.model,
                raw=result.content,
                parsed=reply.value.model_dump() if reply.value is not None else None,
                error=reply.error,
            )
            return reply
    except IntegrityError:
        # A duplicate delivery stored it first: its answer is the one that counts.
        stored = ModelAnswer.objects.get(copy=copy, attempt=copy.attempt, phase=phase, slot=slot, repair=repair)
        return _replayed(stored)


def _replayed(answer: ModelAnswer) -> Reply:
    return Reply(model=answer.model, raw=answer.raw, value=answer.get_grades(), error=answer.error)


def _in_language(language: str | None, **kwargs) -> LLMResult:
    # Activated languages are per thread: errors raised in the call threads speak the task's.
    with translation.override(language):
        return llm_complete(**kwargs)


def _run(copy: Copy, job: GradingJob) -> PhaseRun:
    def run(phase: str, requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
        """Replays the calls of this round already stored; makes the others in parallel and stores each."""
        stored = ModelAnswer.objects.filter(
            copy=copy, attempt=copy.attempt, phase=phase, repair=repair, slot__in=list(requests)
        )
        replies = {answer.slot: _replayed(answer) for answer in stored}
        pending = {slot: request for slot, request in requests.items() if slot not in replies}
        if not pending:
            return replies
        with ThreadPoolExecutor(max_workers=len(pending), thread_name_prefix="llm") as pool:
            language = translation.get_language()
            futures = {
                slot: pool.submit(_in_language, language, config=request.config, messages=request.messages)
                for slot, request in pending.items()
            }
        failure: Exception | None = None
        for slot, future in futures.items():
            try:
                result = future.result()
            except EngineError as exc:
                failure = failure or exc
                continue
            reply = reply_parse(result, partial(parse_copy_grades, expected_ids=pending[slot].expected))
            replies[slot] = _store(copy, job, phase=phase, slot=slot, repair=repair, result=result, reply=reply)
        if failure is not None:
            # The calls that succeeded are stored: a retry will not pay for them again.
            raise failure
        return replies

    return run


def _copy_pages(copy: Copy) -> list[tuple[str, str]]:
    from .engine.prompts import data_url

    pages = []
    for page in copy.pages.all():
        with page.image.open("rb") as image:
            pages.append((data_url(image.read()), page.text))
    return pages


def copy_estimate_tokens(copy: Copy, *, configs: dict[str, RoleConfig], ctx=None) -> int:
    ctx = ctx or exam_context(copy.exam, render_subject=False)
    prefix = prompt_tokens_estimate(ctx, image_tokens=IMAGE_TOKENS_DEFAULT)
    pages = copy.pages.count()
    return _copy_estimate(copy.exam, configs, pages=pages, prefix=prefix, questions=len(ctx.questions), cost=False)[0]


def copy_fail(*, copy: Copy, reason: str) -> bool:
    failed = copy.transition(
        source=(Copy.Status.GRADING, Copy.Status.VERIFYING, Copy.Status.QUEUED),
        target=Copy.Status.FAILED,
        failure_reason=reason[:2000],
    )
    if failed:
        _progress(copy.exam)
        if copy.job_id:
            _job_maybe_finish(copy.job_id)
    return failed


def copy_stuck_after() -> timedelta:
    """How long a copy may stay grading / verifying before copies_stuck_fail gives up on it.

    CORRIGO_STUCK_COPY_MINUTES, never less than the copy task's own worst-case retry budget:
    a copy still being retried is never failed under its task."""
    from .tasks import copy_task_budget_s

    minutes = timedelta(minutes=settings.CORRIGO_STUCK_COPY_MINUTES)
    return max(minutes, timedelta(seconds=copy_task_budget_s()))


def copies_stuck_fail(*, now: datetime | None = None, older_than: timedelta | None = None) -> int:
    """Fails the copies left grading / verifying by a lost worker, then settles their jobs.

    A worker killed hard (OOM, SIGKILL) or a crash before the task's own error handling
    leaves a copy "en cours" and its job running for ever, holding its token reservation.
    Each copy is failed by a conditional UPDATE that also requires it unchanged since the
    cutoff, so a copy that moves on or finishes meanwhile is left alone; its job is then
    finalized through job_finalize (reservation settled once, email) when nothing else runs.
    Also finalizes running jobs older than the cutoff with no active copy left (a worker lost
    between a copy's last transition and the job's finalization). Returns the copies failed.
    """
    cutoff = (now or timezone.now()) - (older_than or copy_stuck_after())
    stuck = Copy.objects.filter(
        status__in=(Copy.Status.GRADING, Copy.Status.VERIFYING), updated_at__lt=cutoff
    ).select_related("exam", "exam__owner")
    failed = 0
    for copy in stuck:
        with user_language_override(copy.exam.owner):
            reason = _(
                "La correction de cette copie a été interrompue (le traitement ne répond plus) ; "
                "vous pouvez la relancer."
            )
            if not copy.transition(
                source=(Copy.Status.GRADING, Copy.Status.VERIFYING),
                target=Copy.Status.FAILED,
                updated_before=cutoff,
                failure_reason=reason,
            ):
                continue
            failed += 1
            logger.warning("copy %s stuck in grading: failed", copy.pk, extra={"copy": copy.pk})
            _progress(copy.exam)
            if copy.job_id:
                _job_maybe_finish(copy.job_id)
    orphans = GradingJob.objects.filter(status=GradingJob.Status.RUNNING, started_at__lt=cutoff).exclude(
        copies__status__in=ACTIVE
    )
    for job in orphans.select_related("exam", "exam__owner"):
        with user_language_override(job.exam.owner):
            if job_finalize(job=job):
                logger.warning("job %s left running with no active copy: finalized", job.pk, extra={"job": job.pk})
    return failed


def copy_grade(*, copy_id: int, job_id: int, attempt: int | None = None) -> str:
    """Grades one copy of a job; returns the copy's status afterwards.

    Raises TransientLLMError for the task to retry later; every other problem marks the
    copy failed with its reason. A copy that is done, failed or cancelled is left alone.
    """
    copy = Copy.objects.select_related("exam", "job", "job__created_by").get(pk=copy_id)
    job = copy.job
    if job is None or job.pk != job_id or (attempt is not None and copy.attempt != attempt):
        return "stale"
    exam = copy.exam
    configs, ctx = None, None
    if copy.status == Copy.Status.QUEUED:
        if job.status != GradingJob.Status.RUNNING:
            return copy.status
        try:
            configs = _configs(exam, checked=False)
        except EngineError as exc:
            copy_fail(copy=copy, reason=str(exc))
            return Copy.Status.FAILED
        ctx = exam_context(exam)
        need = copy_estimate_tokens(copy, configs=configs, ctx=ctx)
        if job.reservation_key and not usage_job_may_continue(key=job.reservation_key, need=need):
            _quota_reached(job)
            return Copy.Status.QUOTA_REACHED
        if not copy.transition(source=[Copy.Status.QUEUED], target=Copy.Status.GRADING):
            return "taken"
        _progress(exam)
    elif copy.status not in (Copy.Status.GRADING, Copy.Status.VERIFYING):
        return copy.status  # settled already: a redelivery changes nothing

    try:
        configs = configs or _configs(exam, checked=False)
        outcome = grade_copy(
            ctx=ctx or exam_context(exam),
            pages=_copy_pages(copy),
            step=exam.rounding_step,
            configs=configs,
            run=_run(copy, job),
            on_verification=lambda: _verifying(copy),
        )
    except TransientLLMError:
        raise
    except EngineError as exc:
        copy_fail(copy=copy, reason=str(exc))
        return Copy.Status.FAILED
    questions = {f"q{number}": question for number, question in enumerate(exam.questions.all(), start=1)}
    with transaction.atomic():
        if not copy.transition(
            source=(Copy.Status.GRADING, Copy.Status.VERIFYING),
            target=Copy.Status.DONE,
            failure_reason="",
            flagged_manipulation=outcome.manipulation,
            manipulation_reason=outcome.manipulation_reason[:2000],
        ):
            return Copy.objects.get(pk=copy.pk).status
        _grades_write(copy, questions, outcome)
    _progress(exam)
    _job_maybe_finish(job.pk)
    return Copy.Status.DONE


def _grades_write(copy: Copy, questions: dict, outcome) -> None:
    """One row per question: created, or replaced on a re-run (teacher edits are re-run too)."""
    existing = {grade.question_id: grade for grade in Grade.objects.filter(copy=copy)}
    fields = ["points", "ai_points", "max_points", "reading", "reasoning", "feedback", "confidence"]
    fields += ["disagreement", "resolution", "edited", "audit"]
    created, updated = [], []
    for item in outcome.questions:
        question = questions[item.qid]
        grade = existing.get(question.pk) or Grade(copy=copy, question=question)
        values = {
            "points": item.points,
            "ai_points": item.points,
            "max_points": item.maximum,
            "reading": item.reading,
            "reasoning": item.reasoning,
            "feedback": item.feedback,
            "confidence": item.confidence,
            "disagreement": item.disagreement,
            "resolution": item.resolution,
            "edited": False,
            "audit": item.audit,
        }
        for name, value in values.items():
            setattr(grade, name, value)
        grade.updated_at = timezone.now()
        (updated if grade.pk else created).append(grade)
    Grade.objects.bulk_create(created)
    if updated:
        Grade.objects.bulk_update(updated, [*fields, "updated_at"])


def _verifying(copy: Copy) -> None:
    if copy.transition(source=[Copy.Status.GRADING], target=Copy.Status.VERIFYING):
        _progress(copy.exam)


def _quota_reached(job: GradingJob) -> None:
    """The allowance cannot cover another copy: every copy still queued waits, resumable."""
    job.copies.filter(status=Copy.Status.QUEUED).update(
        status=Copy.Status.QUOTA_REACHED,
        failure_reason=_("Allocation de jetons épuisée : relancez la copie après avoir changé d'offre."),
    )
    _progress(job.exam)
    _job_maybe_finish(job.pk)


# --- Pages ------------------------------------------------------------------------------


def copy_pages_render(*, copy: Copy) -> int:
    """Renders the copy's page range of its source PDF to stored JPEGs (one page at a time).

    Replaces any earlier pages of the copy. Raises EngineError for an unreadable PDF or a
    page over the sandbox's limits, leaving the copy without pages (never some of them).
    """
    if copy.source is None:
        raise EngineError(_("Cette copie n'a pas de fichier source."))
    with local_copy(copy.source.file.name, storage=copy.source.file.storage) as path:
        _pages_delete(copy)
        try:
            for rendered in pdf_pages(path, first=copy.first_page, last=copy.last_page):
                page = Page(copy=copy, index=rendered.index - copy.first_page + 1)
                page.width, page.height = rendered.width, rendered.height
                page.text = rendered.text.replace("\x00", "")
                page.image.save(f"p{page.index}.jpg", ContentFile(rendered.jpeg), save=False)
                page.save()
        except EngineError:
            _pages_delete(copy)
            raise
    return copy.pages.count()


def _pages_delete(copy: Copy) -> None:
    pages = list(copy.pages.all())
    for page in pages:
        page.image.delete(save=False)
    Page.objects.filter(pk__in=[page.pk for page in pages]).delete()
