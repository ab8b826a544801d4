"""Call, parse, repair once: how the engine asks a model for a structured answer.

`ask_with_repair` sends a round of requests (one per key: a grader's slot, or a single
detection call) through `run`, which the caller supplies: it makes the calls (or replays the
ones it stored), records them, and returns each answer parsed (`reply_parse`). An unusable
answer (not JSON, wrong shape, cut short) gets one repair round that tells the model what
was wrong; a second unusable answer raises InvalidAnswer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar, cast

from django.utils.translation import gettext_noop

from core.i18n import translatable

from .config import RoleConfig
from .errors import InvalidAnswer
from .llm import LLMResult, llm_complete
from .prompts import repair_messages

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    config: RoleConfig
    messages: list[dict]
    # The question ids a grading answer must cover (empty for detection).
    expected: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Reply(Generic[T]):
    """One call's answer: `value` when usable, else `error` says why."""

    model: str
    raw: str
    value: T | None
    error: str = ""


# (requests, repair) → the replies of that round, one per request key.
Run = Callable[[dict[K, Request], bool], dict[K, Reply[T]]]


def reply_parse(result: LLMResult, parse: Callable[..., T]) -> Reply[T]:
    """The call's answer parsed by `parse(raw, truncated=…)`, or the reason it is unusable."""
    try:
        return Reply(model=result.model, raw=result.content, value=parse(result.content, truncated=result.truncated))
    except InvalidAnswer as exc:
        return Reply(model=result.model, raw=result.content, value=None, error=exc.message)


def ask_with_repair(requests: dict[K, Request], run: Run[K, T]) -> dict[K, Reply[T]]:
    """Every request's usable reply, after at most one repair round. Raises InvalidAnswer."""
    replies = run(requests, False)
    broken = {
        key: replace(request, messages=repair_messages(request.messages, raw=reply.raw, error=reply.error))
        for key, request in requests.items()
        if (reply := replies[key]).value is None
    }
    if broken:
        replies = {**replies, **run(broken, True)}
    for reply in replies.values():
        if reply.value is None:
            raise InvalidAnswer(
                translatable(
                    gettext_noop("Réponse inutilisable du modèle %(model)s, même après une réparation : %(error)s"),
                    model=reply.model,
                    error=reply.error,
                ),
                raw=reply.raw,
            )
    return replies


def ask_one(
    *, request: Request, record: Callable[[LLMResult, bool], None], parse: Callable[..., T], max_tokens: int
) -> T:
    """One request called directly (nothing stored to replay), each call passed to
    `record(result, repair)` before its answer is read: the usable value after at most one
    repair. Raises EngineError (InvalidAnswer, TransientLLMError, PermanentLLMError…)."""

    def run(requests: dict[str, Request], repair: bool) -> dict[str, Reply[T]]:
        replies = {}
        for key, each in requests.items():
            result = llm_complete(config=each.config, messages=each.messages, max_tokens=max_tokens)
            record(result, repair)
            replies[key] = reply_parse(result, parse)
        return replies

    # ask_with_repair raises InvalidAnswer unless the reply is usable: the value is there.
    return cast(T, ask_with_repair({"answer": request}, run)["answer"].value)
