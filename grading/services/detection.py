"""The detection model's readings, recorded in the ledger: a barème read from the subject, and
how a whole-class PDF splits into copies (run by a task: services.proposals), and the ledger
writer the name reading shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from accounts.models import User
from usage.services import usage_record

from ..engine.detection import BAREME_MAX_PAGES, bareme_extract, split_propose
from ..engine.llm import LLMResult
from ..models import Copy, Exam, SourceFile
from .estimate import role_ready
from .subject_pages import subject_pages_cached


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


def bareme_read(*, exam: Exam, name: str) -> list[dict]:
    """The detection model's reading of the stored subject / corrigé `name`: rows for the
    teacher to correct, points as text (stored as JSON). Runs in a task: it renders pages.

    Raises EngineError: PdfRefused (the file), InvalidAnswer (the model's answer), provider errors."""
    proposal = bareme_extract(
        name=name,
        # The render queue renders the same pages at the same size when the subject is stored:
        # taken from the cache when that render came first, rendered here otherwise.
        pages=subject_pages_cached(exam_id=exam.pk, name=name, last=BAREME_MAX_PAGES),
        language=exam.language,
        config=role_ready("detection"),
        record=detection_record(user=exam.owner, exam=exam, label="bareme"),
    )
    return [{"label": q.label, "max_points": str(q.max_points), "criteria": q.criteria} for q in proposal.questions]


def split_read(*, source: SourceFile) -> list[dict]:
    """The detection model's split of the stored class PDF, checked against its pages. Runs in a
    task: it renders up to 120 pages. Raises EngineError as bareme_read does."""
    proposal = split_propose(
        name=source.file.name,
        config=role_ready("detection"),
        record=detection_record(user=source.exam.owner, exam=source.exam, label="split"),
    )
    return [
        {"student_label": c.student_label, "first_page": c.first_page, "last_page": c.last_page}
        for c in proposal.copies
    ]
