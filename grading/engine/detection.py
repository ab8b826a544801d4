"""Detection-model tasks the workflow pages show for review: barème and class-PDF split."""

from __future__ import annotations

import uuid

from django.utils.translation import gettext as _
from pydantic import BaseModel

from .config import role_check
from .errors import EngineError, InvalidAnswer
from .llm import LLMResult, llm_complete
from .prompts import bareme_messages, data_url, repair_messages, split_messages
from .render import local_copy, pdf_pages
from .schema import BaremeProposal, SplitProposal, parse_model

BAREME_MAX_PAGES = 10
SPLIT_MAX_PAGES = 120
SPLIT_LONG_SIDE = 900  # names and first lines stay legible; 120 pages stay affordable


def _record(result: LLMResult, *, user, exam, phase: str, key: str) -> None:
    from usage.services import usage_record

    usage_record(
        user=user,
        exam=exam,
        phase=phase,
        model=result.model,
        **result.ledger_tokens,
        idempotency_key=key,
    )


def _ask(messages: list[dict], schema: type[BaseModel], *, user, exam, label: str):
    config = role_check("detection")
    base = f"detect:{label}:{exam.pk if exam else 0}:{uuid.uuid4().hex[:12]}"
    result = llm_complete(config=config, messages=messages)
    _record(result, user=user, exam=exam, phase="detection", key=base)
    try:
        return parse_model(result.content, schema, truncated=result.truncated)
    except InvalidAnswer as exc:
        repair = llm_complete(config=config, messages=repair_messages(messages, raw=result.content, error=str(exc)))
        _record(repair, user=user, exam=exam, phase="repair", key=f"{base}:repair")
        return parse_model(repair.content, schema, truncated=repair.truncated)


def bareme_extract(*, exam, user=None, name: str | None = None) -> BaremeProposal:
    """Proposes the barème read from the exam's subject / corrigé (or the stored file `name`).

    Raises EngineError (InvalidAnswer, TransientLLMError, PermanentLLMError…) with a readable reason.
    """
    name = name or (exam.subject_file.name if exam.subject_file else None)
    if not name:
        raise EngineError(_("Aucun sujet ni corrigé n'a été déposé pour cette correction."))
    with local_copy(name) as path:
        pages = [(data_url(page.jpeg), page.text) for page in pdf_pages(path, last=BAREME_MAX_PAGES)]
    messages = bareme_messages(pages, language=exam.language)
    return _ask(messages, BaremeProposal, user=user or exam.owner, exam=exam, label="bareme")


def split_propose(*, source, user=None) -> SplitProposal:
    """Proposes how a whole-class PDF (a grading.SourceFile) splits into student copies."""
    with local_copy(source.file.name) as path:
        pages = [
            (data_url(page.jpeg), page.text)
            for page in pdf_pages(path, last=SPLIT_MAX_PAGES, long_side=SPLIT_LONG_SIDE)
        ]
    exam = source.exam
    proposal = _ask(split_messages(pages), SplitProposal, user=user or exam.owner, exam=exam, label="split")
    return proposal.check_pages(len(pages))
