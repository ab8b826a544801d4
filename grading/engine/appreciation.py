"""The general appréciation of a graded copy, drafted by the grading model (a small call).

The caller passes the grading role's checked configuration and `record(result, repair)`,
which writes each call to the ledger before anything else (grading.services.appreciation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import cast

from core.text import squash_spaces

from .asking import Request, ask_one
from .config import RoleConfig
from .llm import LLMResult
from .prompts import appreciation_messages
from .schema import AppreciationDraft, parse_model

# A few sentences: the answer's cap keeps the call cheap (and its worst case small).
APPRECIATION_MAX_TOKENS = 600

Record = Callable[[LLMResult, bool], None]


def appreciation_request(
    *, config: RoleConfig, title: str, language: str, items: list[dict], total: str, maximum: str
) -> Request:
    messages = appreciation_messages(title=title, language=language, items=items, total=total, maximum=maximum)
    return Request(config, messages)


def appreciation_write(*, request: Request, record: Record) -> str:
    """The model's appréciation for the request's grades, after at most one repair.

    Raises EngineError (InvalidAnswer, TransientLLMError, PermanentLLMError…) with a readable reason."""
    parse = partial(parse_model, model=AppreciationDraft)
    draft = cast(
        AppreciationDraft, ask_one(request=request, record=record, parse=parse, max_tokens=APPRECIATION_MAX_TOKENS)
    )
    return squash_spaces(draft.appreciation)
