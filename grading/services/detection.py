"""The detection model's proposals, recorded in the ledger: a barème read from the subject,
and how a whole-class PDF splits into copies."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.core.cache import cache
from django.utils.translation import gettext as _

from accounts.models import User
from usage.services import usage_record

from ..engine.detection import bareme_extract, split_propose
from ..engine.errors import EngineError
from ..engine.llm import LLMResult
from ..errors import WorkflowError
from ..models import Copy, Exam, SourceFile
from .estimate import role_ready
from .uploads import SplitRow

SPLIT_CACHE_S = 3600  # a teacher reopening the split page does not pay for the proposal again


def detection_record(
    *, user: User, exam: Exam, label: str, copy: Copy | None = None, reservation_key: str | None = None
) -> Callable[[LLMResult, bool], None]:
    """Writes each detection call (and its repair) to the ledger, under a key of its own."""
    base = f"detect:{label}:{exam.pk}:{uuid.uuid4().hex[:12]}"

    def record(result: LLMResult, repair: bool) -> None:
        usage_record(
            user=user,
            exam=exam,
            copy=copy,
            phase="repair" if repair else "detection",
            model=result.model,
            **result.ledger_tokens,
            idempotency_key=f"{base}:repair" if repair else base,
            reservation_key=reservation_key,
        )

    return record


def bareme_propose(*, exam: Exam, user: User) -> list[dict]:
    """The detection model's reading of the subject: rows for the teacher to correct.

    Raises WorkflowError without a subject, EngineError when the model's answer is unusable."""
    if not exam.subject_file:
        raise WorkflowError(_("Choisissez le PDF du sujet ou du corrigé."))
    proposal = bareme_extract(
        name=exam.subject_file.name,
        language=exam.language,
        config=role_ready("detection"),
        record=detection_record(user=user, exam=exam, label="bareme"),
    )
    return [{"label": q.label, "max_points": q.max_points, "criteria": q.criteria} for q in proposal.questions]


def split_propose_for(*, source: SourceFile, user: User) -> tuple[list[SplitRow], str]:
    """The detection model's split proposal (cached: one LLM call per file), or one whole-file row."""
    whole = [SplitRow(_("Élève 1"), 1, source.page_count)]
    key = f"grading:split:{source.pk}:{source.sha256}"
    rows = cache.get(key)
    if rows is None:
        try:
            proposal = split_propose(
                name=source.file.name,
                config=role_ready("detection"),
                record=detection_record(user=user, exam=source.exam, label="split"),
            )
        except EngineError as error:
            return whole, _(
                "La proposition automatique a échoué (%(reason)s) : indiquez les pages de chaque élève."
            ) % {"reason": error}
        rows = [SplitRow(c.student_label, c.first_page, c.last_page) for c in proposal.copies]
        cache.set(key, rows, SPLIT_CACHE_S)
    return rows, _("Proposition automatique : vérifiez les noms et les pages avant de confirmer.")
