"""The general appréciation of a graded copy, drafted by the grading model (a small call).

The caller passes the grading role's checked configuration and `record(result, repair)`,
which writes each call to the ledger before anything else (grading.services.appreciation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import cast

from .asking import Reply, Request, ask_with_repair, reply_parse
from .config import RoleConfig
from .llm import LLMResult, llm_complete
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

    def run(requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
        replies = {}
        for key, each in requests.items():
            result = llm_complete(config=each.config, messages=each.messages, max_tokens=APPRECIATION_MAX_TOKENS)
            record(result, repair)
            replies[key] = reply_parse(result, partial(parse_model, model=AppreciationDraft))
        return replies

    # ask_with_repair raises InvalidAnswer unless every reply is usable: the value is there.
    draft = cast(AppreciationDraft, ask_with_repair({"appreciation": request}, run)["appreciation"].value)
    return " ".join(draft.appreciation.split())
