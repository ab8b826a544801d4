"""Single and double correction of one copy, with one verification round.

Pure orchestration: the caller supplies `run(phase, requests, repair)`, which makes a round of
model calls (in parallel), records them (ledger, audit, reuse on a redelivered task) and
returns each slot's parsed reply; asking.ask_with_repair repairs an unusable answer once.
Here: what to ask, and how the final grade is reached.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .asking import Reply, Request, ask_with_repair
from .config import RoleConfig
from .prompts import ExamContext, grading_messages, verification_messages
from .schema import CopyGrades, QuestionGrade, normalise_points

DISAGREEMENT_SHARE = Decimal("0.10")  # points differing by ≥ 10 % of the question's max
READING_SIMILARITY_MIN = 0.35  # below this, two readings "differ strongly"
READING_MIN_CHARS = 20  # shorter readings are too short to compare meaningfully


# (phase, {slot: request}, repair) → {slot: reply}: one round of calls, made or replayed.
PhaseRun = Callable[[str, dict[str, Request], bool], dict[str, Reply[CopyGrades]]]


@dataclass(frozen=True)
class Answer:
    grades: CopyGrades
    raw: str


def _ask(run: PhaseRun, phase: str, requests: dict[str, Request]) -> dict[str, Answer]:
    replies = ask_with_repair(requests, lambda round_requests, repair: run(phase, round_requests, repair))
    return {slot: Answer(grades=reply.value, raw=reply.raw) for slot, reply in replies.items() if reply.value}


@dataclass
class QuestionOutcome:
    qid: str
    points: Decimal
    maximum: Decimal
    reading: str
    reasoning: str
    feedback: str
    confidence: float
    disagreement: bool
    resolution: str  # grading.models.Grade.Resolution values
    audit: dict = field(default_factory=dict)
    # Where the answer was read (QuestionGrade.page/top/bottom), None when no grader said.
    page: int | None = None
    top: float | None = None
    bottom: float | None = None


@dataclass
class CopyOutcome:
    questions: list[QuestionOutcome]
    manipulation: bool
    manipulation_reason: str
    verified: bool = False


def _normalised_reading(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def readings_differ(first: str, second: str) -> bool:
    a, b = _normalised_reading(first), _normalised_reading(second)
    if len(a) < READING_MIN_CHARS or len(b) < READING_MIN_CHARS:
        return False
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio() < READING_SIMILARITY_MIN


def points_differ(first: float, second: float, maximum: Decimal) -> bool:
    return abs(Decimal(str(first)) - Decimal(str(second))) >= DISAGREEMENT_SHARE * maximum


def _view(grade: QuestionGrade) -> dict:
    return grade.model_dump(exclude={"id"})


def _placement(page_count: int, *answers: QuestionGrade) -> dict:
    """The first usable placement among the answers, in order of preference (the verification
    round often omits it: the first round's is used then)."""
    for answer in answers:
        page, top, bottom = answer.placement_clamped(page_count)
        if page is not None:
            return {"page": page, "top": top, "bottom": bottom}
    return {}


def grade_copy(
    *,
    ctx: ExamContext,
    pages: list[tuple[str, str]],
    step: Decimal,
    configs: dict[str, RoleConfig],
    run: PhaseRun,
    on_verification: Callable[[], None] | None = None,
) -> CopyOutcome:
    """Grades a copy with grader "a" alone, or "a" ∥ "b" then a verification round if needed."""
    ids = ctx.question_ids
    maxima = {q["id"]: Decimal(str(q["max"])) for q in ctx.questions}
    first = _ask(
        run,
        "grading",
        {
            slot: Request(cfg, grading_messages(ctx, pages, anthropic=cfg.is_anthropic), expected=ids)
            for slot, cfg in configs.items()
        },
    )
    flags = [answer.grades.manipulation for answer in first.values() if answer.grades.manipulation.flag]
    manipulation = bool(flags)
    manipulation_reason = "; ".join(dict.fromkeys(flag.reason for flag in flags if flag.reason))

    if set(configs) == {"a"}:
        a = first["a"].grades.by_id()
        questions = [
            QuestionOutcome(
                qid=qid,
                points=normalise_points(a[qid].points, maximum=maxima[qid], step=step),
                maximum=maxima[qid],
                reading=a[qid].reading,
                reasoning=a[qid].reasoning,
                feedback=a[qid].feedback,
                confidence=a[qid].confidence,
                disagreement=False,
                resolution="single",
                audit={"a": {"grading": _view(a[qid])}, "max": str(maxima[qid]), "resolution": "single"},
                **_placement(len(pages), a[qid]),
            )
            for qid in ids
        ]
        return CopyOutcome(questions=questions, manipulation=manipulation, manipulation_reason=manipulation_reason)

    a, b = first["a"].grades.by_id(), first["b"].grades.by_id()
    disputed = [
        qid
        for qid in ids
        if points_differ(a[qid].points, b[qid].points, maxima[qid]) or readings_differ(a[qid].reading, b[qid].reading)
    ]
    second: dict[str, Answer] = {}
    if disputed:
        if on_verification:
            on_verification()
        others = {"a": first["b"].grades, "b": first["a"].grades}
        second = _ask(
            run,
            "verification",
            {
                slot: Request(
                    cfg,
                    verification_messages(
                        ctx,
                        pages,
                        own_raw=first[slot].raw,
                        other=others[slot],
                        disputed_ids=disputed,
                        anthropic=cfg.is_anthropic,
                    ),
                    expected=disputed,
                )
                for slot, cfg in configs.items()
            },
        )
        for answer in second.values():
            if answer.grades.manipulation.flag:
                manipulation = True
    va = second["a"].grades.by_id() if second else {}
    vb = second["b"].grades.by_id() if second else {}

    questions = []
    for qid in ids:
        maximum = maxima[qid]
        audit: dict[str, Any] = {
            "a": {"grading": _view(a[qid])},
            "b": {"grading": _view(b[qid])},
            "threshold": str(DISAGREEMENT_SHARE * maximum),
            # The maximum the graders' points are out of (the barème may change after grading).
            "max": str(maximum),
        }
        if qid not in disputed:
            final_a, final_b, resolution, disagreement = a[qid], b[qid], "agreed", False
        else:
            final_a, final_b = va[qid], vb[qid]
            audit["a"]["verification"] = _view(final_a)
            audit["b"]["verification"] = _view(final_b)
            audit["disputed_because"] = "points" if points_differ(a[qid].points, b[qid].points, maximum) else "reading"
            # After verification only the points decide: the readings were shown to both.
            disagreement = points_differ(final_a.points, final_b.points, maximum)
            resolution = "averaged" if disagreement else "verified"
        mean = (Decimal(str(final_a.points)) + Decimal(str(final_b.points))) / 2
        points = normalise_points(mean, maximum=maximum, step=step)
        text_from = final_a if final_a.confidence >= final_b.confidence else final_b
        first_from = a[qid] if text_from is final_a else b[qid]
        first_other = b[qid] if text_from is final_a else a[qid]
        audit["resolution"] = resolution
        audit["final"] = str(points)
        questions.append(
            QuestionOutcome(
                qid=qid,
                points=points,
                maximum=maximum,
                reading=text_from.reading,
                reasoning=text_from.reasoning,
                feedback=text_from.feedback,
                confidence=round((final_a.confidence + final_b.confidence) / 2, 3),
                disagreement=disagreement,
                resolution=resolution,
                audit=audit,
                **_placement(len(pages), text_from, first_from, first_other),
            )
        )
    return CopyOutcome(
        questions=questions,
        manipulation=manipulation,
        manipulation_reason=manipulation_reason,
        verified=bool(disputed),
    )
