"""The class summary: three strengths and three difficulties of the class, drafted by the
grading model from the questions' figures and a few readings (one small call).

The caller passes the grading role's checked configuration and `record(result, repair)`,
which writes each call to the ledger before anything else (grading.services.summary).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import cast

from .asking import Reply, Request, ask_with_repair, reply_parse
from .config import RoleConfig
from .llm import LLMResult, llm_complete
from .prompts import class_summary_messages
from .schema import ClassSummaryDraft, parse_model

# Six short sentences: the cap keeps the call cheap (and its worst case small).
CLASS_SUMMARY_MAX_TOKENS = 800

Record = Callable[[LLMResult, bool], None]


def class_summary_request(*, config: RoleConfig, title: str, language: str, questions: list[dict]) -> Request:
    return Request(config, class_summary_messages(title=title, language=language, questions=questions))


def class_summary_write(*, request: Request, record: Record) -> ClassSummaryDraft:
    """The model's strengths and difficulties, after at most one repair.

    Raises EngineError (InvalidAnswer, TransientLLMError, PermanentLLMError…) with a readable reason."""

    def run(requests: dict[str, Request], repair: bool) -> dict[str, Reply]:
        replies = {}
        for key, each in requests.items():
            result = llm_complete(config=each.config, messages=each.messages, max_tokens=CLASS_SUMMARY_MAX_TOKENS)
            record(result, repair)
            replies[key] = reply_parse(result, partial(parse_model, model=ClassSummaryDraft))
        return replies

    return cast(ClassSummaryDraft, ask_with_repair({"summary": request}, run)["summary"].value)
