"""The operators' evaluation (manage.py grading_eval): teacher-graded text answers graded again by
the configured grader models, through the engine's own grading path, and the agreement figures.

Each row of the file (services.evaluation_file) is graded as a one-question copy: its question
and reference answer are the barème, its student answer a typed page without an image
(engine.prompts.copy_message). `grade_copy` decides exactly as for a scanned copy (single or
double correction, verification round, one repair).

Money: every call is recorded in the ledger (usage_record) under the operator's account the
moment it returns, before its answer is parsed, under the key `eval:<run>:<line>:<phase>:<slot>`.
With a cost cap, each round of calls first reserves its worst case (estimate.request_worst_cost:
the prompt's bound and the answer's cap at the model's dearest rates); a round that would take
spent + reserved past the cap is not launched, and no row starts after that. What the run spends
therefore stays under the cap as long as the providers bill within the bound.

Figures per grader slot on its first, independent grade (what that model says alone), and in
double mode for the final grade Corrigo would give (after verification), on the rows graded.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from django.db import connection
from django.utils import translation

from accounts.models import User
from usage.selectors import price_card
from usage.services import usage_record

from ..engine.asking import Reply, Request, reply_parse
from ..engine.config import RoleConfig, roles_for_mode
from ..engine.errors import EngineError
from ..engine.grader import CopyOutcome, grade_copy
from ..engine.llm import llm_complete
from ..engine.metrics import Agreement, agreement
from ..engine.prompts import ExamContext
from ..engine.schema import normalise_points, parse_copy_grades
from .estimate import SLOTS, request_worst_cost, role_ready
from .evaluation_file import EvalRow

OPERATOR_EMAIL = "evaluation@operators.corrigo.invalid"
FINAL = "final"


class CapReached(Exception):
    """The next round of calls could take the run's spending past its cost cap."""


@dataclass
class SlotUsage:
    calls: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass
class RowResult:
    row: EvalRow
    status: str = "skipped"  # graded | failed | skipped (the cost cap stopped the run first)
    error: str = ""
    points: dict[str, Decimal] = field(default_factory=dict)  # slot (and FINAL) → points


@dataclass(frozen=True)
class Figures:
    slot: str  # "a", "b" or FINAL
    model: str
    agreement: Agreement
    usage: SlotUsage


@dataclass(frozen=True)
class EvalReport:
    run: str
    mode: str
    step: Decimal
    max_cost: Decimal | None
    rows: list[RowResult]
    figures: list[Figures]
    spent: Decimal
    capped: bool

    def count(self, status: str) -> int:
        return sum(1 for result in self.rows if result.status == status)


class Budget:
    """The run's spending (from its ledger rows) and the worst cases of the calls in flight."""

    def __init__(self, cap: Decimal | None):
        self.cap = cap
        self.spent = Decimal(0)
        self.reserved = Decimal(0)
        self.stopped = False
        self._lock = threading.Lock()

    def reserve(self, amount: Decimal) -> None:
        with self._lock:
            if self.stopped or (self.cap is not None and self.spent + self.reserved + amount > self.cap):
                self.stopped = True
                raise CapReached
            self.reserved += amount

    def stop(self) -> None:
        with self._lock:
            self.stopped = True

    def settle(self, *, reserved: Decimal, spent: Decimal) -> None:
        with self._lock:
            self.spent += spent
            self.reserved -= reserved


def eval_operator(*, email: str | None) -> User:
    """The account the run's calls are recorded under: `email`'s (it must exist), else the
    dedicated operator account, created on first use without a password and inactive (it cannot
    sign in; it only owns ledger rows)."""
    if email:
        return User.objects.get(email__iexact=email)
    user, created = User.objects.get_or_create(email=OPERATOR_EMAIL, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def eval_configs(*, mode: str) -> dict[str, RoleConfig]:
    """Each grader slot's configured model, checked (model, key, price). Raises ModelMisconfigured."""
    return {SLOTS[role]: role_ready(role) for role in roles_for_mode(mode)}


def eval_context(row: EvalRow) -> ExamContext:
    question = {"id": "q1", "label": row.question, "max": float(row.max_score), "criteria": row.reference_answer}
    return ExamContext(
        exam_id=0,
        title="Évaluation",
        subject="",
        level="",
        language="fr",
        instructions="",
        questions=(question,),
        subject_pages=(),
    )


class _Run:
    def __init__(self, *, user: User, configs: dict[str, RoleConfig], step: Decimal, budget: Budget):
        self.id = uuid.uuid4().hex[:12]
        self.user = user
        self.configs = configs
        self.step = step
        self.budget = budget
        self.cards = {slot: price_card(config.model) for slot, config in configs.items()}
        self.usage = {slot: SlotUsage() for slot in configs}
        self._lock = threading.Lock()

    def calls(self, line: int, language: str | None):
        def run(phase: str, requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
            worst = sum(
                (request_worst_cost(request, card=self.cards[slot]) for slot, request in requests.items()), Decimal(0)
            )
            self.budget.reserve(worst)
            spent = Decimal(0)
            try:
                with ThreadPoolExecutor(max_workers=len(requests), thread_name_prefix="eval-llm") as pool:
                    futures = {
                        slot: pool.submit(self._answered, language, request) for slot, request in requests.items()
                    }
                replies, failure = {}, None
                for slot, future in futures.items():
                    try:
                        result = future.result()
                    except EngineError as exc:
                        failure = failure or exc
                        continue
                    key = f"eval:{self.id}:{line}:{phase}:{slot}" + (":repair" if repair else "")
                    record = usage_record(
                        user=self.user,
                        phase="repair" if repair else phase,
                        model=result.model,
                        **result.ledger_tokens,
                        idempotency_key=key,
                    )
                    spent += record.total_cost
                    with self._lock:
                        usage = self.usage[slot]
                        usage.calls += 1
                        usage.tokens += record.total_tokens
                        usage.cost += record.total_cost
                    expected = requests[slot].expected
                    replies[slot] = reply_parse(result, partial(parse_copy_grades, expected_ids=expected))
            finally:
                self.budget.settle(reserved=worst, spent=spent)
            if failure is not None:
                raise failure
            return replies

        return run

    @staticmethod
    def _answered(language: str | None, request: Request):
        with translation.override(language):
            return llm_complete(config=request.config, messages=request.messages)

    def grade(self, result: RowResult, language: str | None) -> RowResult:
        row = result.row
        try:
            with translation.override(language):
                if self.budget.stopped:
                    return result
                outcome = grade_copy(
                    ctx=eval_context(row),
                    pages=[("", row.student_answer)],
                    step=self.step,
                    configs=self.configs,
                    run=self.calls(row.line, language),
                )
                result.points = self._points(outcome, row)
                result.status = "graded"
        except CapReached:
            result.status = "skipped"
        except EngineError as exc:
            result.status, result.error = "failed", exc.message
        finally:
            connection.close()  # this thread's own connection (the ledger writes)
        return result

    def _points(self, outcome: CopyOutcome, row: EvalRow) -> dict[str, Decimal]:
        question = outcome.questions[0]
        points = {
            slot: normalise_points(question.audit[slot]["grading"]["points"], maximum=row.max_score, step=self.step)
            for slot in self.configs
        }
        if len(self.configs) > 1:
            points[FINAL] = question.points
        return points


def eval_run(
    *,
    rows: list[EvalRow],
    user: User,
    configs: dict[str, RoleConfig],
    step: Decimal,
    concurrency: int,
    max_cost: Decimal | None,
    progress: Callable[[int, int, Decimal], None] | None = None,
) -> EvalReport:
    """Grades every row (at most `concurrency` rows at once, each round's calls in parallel as in
    production), records each call, and returns the figures. A row the engine cannot grade is
    counted as failed with its reason; the others carry on."""
    budget = Budget(max_cost)
    run = _Run(user=user, configs=configs, step=step, budget=budget)
    results = [RowResult(row=row) for row in rows]
    language = translation.get_language()
    done = 0
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="eval-row") as pool:
        futures = [pool.submit(run.grade, result, language) for result in results]
        try:
            for future in as_completed(futures):
                future.result()  # a bug or a lost database surfaces here, not silently
                done += 1
                if progress is not None:
                    progress(done, len(rows), budget.spent)
        except BaseException:
            # Interrupted (Ctrl-C) or broken: no new call starts; the calls in flight end and
            # are recorded while the pool winds down.
            budget.stop()
            raise
    graded = [result for result in results if result.status == "graded"]
    high = max((result.row.max_score for result in graded), default=None)
    slots = [*configs, *([FINAL] if len(configs) > 1 else [])]
    figures = [
        Figures(
            slot=slot,
            model=configs[slot].model if slot in configs else "",
            agreement=agreement(
                [result.row.score for result in graded],
                [result.points[slot] for result in graded],
                step,
                low=0,
                high=high,
            ),
            usage=run.usage.get(slot, SlotUsage()),
        )
        for slot in slots
    ]
    return EvalReport(
        run=run.id,
        mode="double" if len(configs) > 1 else "single",
        step=step,
        max_cost=max_cost,
        rows=results,
        figures=figures,
        spent=budget.spent,
        capped=budget.stopped,
    )
