"""A copy's general appréciation drafted by the grading model from its grades (one small call,
metered like every call: a reservation of its worst case first, each call's ledger row written
the moment it returns, phase "appreciation", before anything else: metered_ask, which the class
summary uses too)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Generic, TypeVar

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from usage.services import usage_record, usage_reserve, usage_settle

from ..engine.appreciation import APPRECIATION_MAX_TOKENS, appreciation_request, appreciation_write
from ..engine.asking import Request
from ..engine.llm import LLMResult
from ..errors import WorkflowError
from ..models import Copy, Exam
from .estimate import request_worst_tokens, role_ready

T = TypeVar("T")

# The role whose model drafts it: the grading model (grader A in double correction).
APPRECIATION_ROLE = "grader_a"


@dataclass(frozen=True)
class Metered(Generic[T]):
    value: T
    model: str  # the model that gave it (the repair's when there was one)


def metered_hold(request: Request, *, max_tokens: int) -> int:
    """What metered_ask holds on the allowance: the call and its possible repair, each at its
    worst case."""
    return 2 * request_worst_tokens(request, max_tokens=max_tokens)


def metered_ask(
    *,
    user: User,
    exam: Exam,
    copy: Copy | None = None,
    phase: str,
    key: str,
    request: Request,
    max_tokens: int,
    write: Callable[..., T],
) -> Metered[T]:
    """One small call outside grading (an appréciation, the class summary), metered: its worst
    case and its repair's reserved under `key`, each call's ledger row written the moment it
    returns (`phase`, or "repair"), the reservation settled whatever happens.
    `write(request=…, record=…)` is the engine's function that asks."""
    usage_reserve(user=user, key=key, tokens=metered_hold(request, max_tokens=max_tokens), exam=exam)
    models: list[str] = []

    def record(result: LLMResult, repair: bool) -> None:
        models.append(result.model)
        usage_record(
            user=user,
            exam=exam,
            copy=copy,
            phase="repair" if repair else phase,
            model=result.model,
            **result.ledger_tokens,
            idempotency_key=f"{key}:repair" if repair else key,
            reservation_key=key,
        )

    outcome = "failed"
    try:
        value = write(request=request, record=record)
        outcome = "finished"
    finally:
        usage_settle(key=key, outcome=outcome)
    return Metered(value=value, model=models[-1] if models else "")


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _items(copy: Copy) -> tuple[list[dict], Decimal, Decimal]:
    """The copy's grades as the teacher left them (points and feedback), in barème order."""
    grades = list(copy.grades.select_related("question").order_by("question__order", "question_id"))
    if not grades:
        raise WorkflowError(_("La copie n'a pas encore de notes : rien à apprécier."))
    items = [
        {
            "label": grade.question.label,
            "points": _number(grade.points),
            "max": _number(grade.max_points),
            "reading": grade.reading,
            "feedback": grade.feedback,
        }
        for grade in grades
    ]
    total = sum((grade.points for grade in grades), Decimal(0))
    maximum = sum((grade.max_points for grade in grades), Decimal(0))
    return items, total, maximum


def copy_appreciation_request(*, copy: Copy) -> Request:
    """The call that drafts the copy's appréciation (WorkflowError: no grades yet;
    ModelMisconfigured: the grading model is not set up)."""
    items, total, maximum = _items(copy)
    return appreciation_request(
        config=role_ready(APPRECIATION_ROLE),
        title=copy.exam.title,
        language=copy.exam.language,
        items=items,
        total=_number(total),
        maximum=_number(maximum),
    )


def copy_appreciation_ask(*, copy: Copy, user: User) -> str:
    """The grading model's appréciation for the copy, metered (metered_ask); stores nothing.

    Raises ApplicationError: no grades yet, allowance too small (QuotaExceeded, before any
    call), model misconfigured, provider down or unusable answer (EngineError)."""
    return metered_ask(
        user=user,
        exam=copy.exam,
        copy=copy,
        phase="appreciation",
        key=f"appreciation:{copy.pk}:{uuid.uuid4().hex[:12]}",
        request=copy_appreciation_request(copy=copy),
        max_tokens=APPRECIATION_MAX_TOKENS,
        write=appreciation_write,
    ).value


def copy_appreciation_draft(*, copy: Copy, user: User) -> Copy:
    """Asks the grading model for the copy's appréciation; it becomes the draft and the text
    (the teacher asked for it on this copy: it replaces theirs), unless the text changed while the
    model wrote: the teacher saved hers meanwhile, which stays, the draft only offered beside it
    (« Rétablir le texte de l'IA »). Raises as copy_appreciation_ask."""
    asked_over = Copy.objects.values_list("appreciation", flat=True).get(pk=copy.pk)
    draft = copy_appreciation_ask(copy=copy, user=user)
    with transaction.atomic():
        locked = Copy.objects.select_for_update().get(pk=copy.pk)
        locked.appreciation_ai = draft
        if locked.appreciation == asked_over:
            locked.appreciation = draft
        locked.appreciation_stale = False
        locked.save(update_fields=["appreciation_ai", "appreciation", "appreciation_stale", "updated_at"])
    copy.appreciation_ai, copy.appreciation, copy.appreciation_stale = draft, locked.appreciation, False
    return copy
