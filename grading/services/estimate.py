"""What grading an exam will cost before it starts: tokens, dollars, calls, each copy's
estimate and worst case (how many copies the allowance can take); and each slot's model,
checked (model, key, price) so a misconfiguration is refused before anything is held."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, Length

from usage.selectors import PriceCard, PriceMissing, copies_in, price_card

from ..engine.asking import Request
from ..engine.config import RoleConfig, role_check, role_config, roles_for_mode
from ..engine.errors import ModelMisconfigured
from ..engine.prompts import ExamContext, exam_context, prompt_tokens_estimate
from ..models import Copy, Exam
from ..selectors.exams import gradable_copies
from .subject_pages import subject_pages_counted

if TYPE_CHECKING:
    from ..selectors.exams import GradableCopy

# Which slot of a double correction each grader role fills.
SLOTS = {"grader_a": "a", "grader_b": "b"}
# Image tokens per page as each provider counts a 990 × 1400 JPEG (see engine.render).
IMAGE_TOKENS = {"anthropic": 1850, "gemini": 1032, "vertex_ai": 1032}
IMAGE_TOKENS_DEFAULT = 1105
COMPLETION_TOKENS_PER_QUESTION = 160
VERIFICATION_SHARE = 0.3  # expected share of double-corrected copies needing a verification round


@dataclass(frozen=True)
class CopyLine:
    """One copy in a job's estimate: what it should spend, and the most it can hold at once."""

    copy_id: int
    tokens: int
    worst: int
    # Its first grading round's worst case: what its job holds for it when it starts.
    first: int = 0


def reservation_for(lines: Sequence[CopyLine]) -> int:
    """What a job of these copies reserves: each copy's estimate, plus the largest margin of a
    copy's worst case over its estimate. Copies hold their worst case round by round and give
    back what they did not spend when they end, so when every copy spends its estimate the last
    one still finds its worst case free: the job's copies all finish, none stops as « quota
    atteint ». (The holds themselves keep the allowance from ever being exceeded.)"""
    if not lines:
        return 0
    return sum(line.tokens for line in lines) + max(line.worst - line.tokens for line in lines)


def lines_fitting(lines: Sequence[CopyLine], remaining: int) -> int:
    """How many of `lines`, in their order, a job can take with `remaining` tokens."""
    total, margin = 0, 0
    for count, line in enumerate(lines):
        total += line.tokens
        margin = max(margin, line.worst - line.tokens)
        if total + margin > remaining:
            return count
    return len(lines)


@dataclass(frozen=True)
class JobEstimate:
    tokens: int
    cost_usd: Decimal
    calls: int
    copies: int = 0
    lines: tuple[CopyLine, ...] = ()

    @property
    def tokens_per_copy(self) -> int:
        return math.ceil(self.tokens / self.copies) if self.copies else 0

    @property
    def worst_per_copy(self) -> int:
        return max((line.worst for line in self.lines), default=0)

    @property
    def reservation(self) -> int:
        """What starting every copy reserves (reservation_for)."""
        return reservation_for(self.lines)

    def fitting(self, remaining: int) -> int:
        """How many of the copies, in upload order, `remaining` tokens can grade."""
        return lines_fitting(self.lines, remaining)

    def copies_left(self, remaining: int) -> int:
        """« ≈ N copies restantes pour cet examen »: copies like this exam's average one that
        `remaining` can grade, by the rule of a job's start (reservation_for)."""
        return copies_in(remaining, tokens=self.tokens_per_copy, worst=self.worst_per_copy)


def role_ready(role: str) -> RoleConfig:
    """The role's configuration with its model, key and price checked, or ModelMisconfigured."""
    config = role_check(role)
    try:
        price_card(config.model)
    except PriceMissing as exc:
        raise ModelMisconfigured(exc.message) from exc
    return config


def slot_configs(exam: Exam, *, checked: bool = True) -> dict[str, RoleConfig]:
    """Each slot's model, checked (model, key, price): ModelMisconfigured before anything starts.

    Copy tasks skip the check (`checked=False`): the job start checked it moments ago."""
    get = role_ready if checked else role_config
    return {SLOTS[role]: get(role) for role in roles_for_mode(exam.mode)}


def _copy_estimate(
    configs: dict[str, RoleConfig], *, pages: int, prefix: int, questions: int, cards: dict[str, PriceCard] | None
) -> tuple[int, Decimal]:
    """One copy's tokens, and its cost when `cards` (each model's price) are given."""
    completion = 100 + COMPLETION_TOKENS_PER_QUESTION * questions
    calls = 1.0 + (VERIFICATION_SHARE if len(configs) > 1 else 0.0)  # per slot
    tokens, cost = 0, Decimal(0)
    for config in configs.values():
        prompt = prefix + pages * (IMAGE_TOKENS.get(config.provider, IMAGE_TOKENS_DEFAULT) + 150) + 200
        tokens += int((prompt + completion) * calls)
        if cards is not None:
            card = cards[config.model]
            cost += card.input * int(prompt * calls) + card.output * int(completion * calls)
    return tokens, cost


def job_estimate(*, exam: Exam, copy_ids: Sequence[int] | None = None) -> JobEstimate:
    """Tokens, cost (USD, without caching discounts) and calls to grade the gradable copies
    (those of `copy_ids` only, when given), with each copy's line in upload order.

    The question count and the prices are read once, not per copy."""
    copies = gradable_copies(exam)
    if copy_ids is not None:
        copies = copies.filter(pk__in=copy_ids)
    return _copies_estimate(exam, copies)


def copies_estimate(*, exam: Exam, copy_ids: Sequence[int]) -> JobEstimate:
    """job_estimate of these copies whatever their status, graded ones too (a calibration
    round grades its copies again): those with their pages rendered."""
    copies = exam.copies.filter(pk__in=copy_ids).annotate(page_total=Count("pages")).filter(page_total__gt=0)
    return _copies_estimate(exam, copies)


def _counted_context(exam: Exam) -> ExamContext:
    """The prompt as estimates count it: the subject's pages counted, with empty images."""
    return exam_context(exam, subject_pages=subject_pages_counted(exam=exam))


def _copies_estimate(exam: Exam, copies: QuerySet[GradableCopy]) -> JobEstimate:
    configs = slot_configs(exam)
    prefix = prompt_tokens_estimate(_counted_context(exam), image_tokens=IMAGE_TOKENS_DEFAULT)
    questions = exam.questions.count()
    cards = {config.model: price_card(config.model) for config in configs.values()}
    tokens, cost = 0, Decimal(0)
    lines = []
    for copy in copies.annotate(text_chars=Coalesce(Sum(Length("pages__text")), 0)).order_by("id"):
        copy_tokens, copy_cost = _copy_estimate(
            configs, pages=copy.page_total, prefix=prefix, questions=questions, cards=cards
        )
        shape = {"prefix": prefix, "pages": copy.page_total, "text_chars": copy.text_chars}
        lines.append(
            CopyLine(
                copy_id=copy.pk,
                tokens=copy_tokens,
                worst=_copy_worst(configs, **shape),
                first=_first_round_worst(configs, **shape),
            )
        )
        tokens += copy_tokens
        cost += copy_cost
    per_copy_calls = len(configs) * (1 + (VERIFICATION_SHARE if len(configs) > 1 else 0))
    return JobEstimate(
        tokens=tokens,
        cost_usd=cost.quantize(Decimal("0.0001")),
        calls=math.ceil(len(lines) * per_copy_calls),
        copies=len(lines),
        lines=tuple(lines),
    )


def copy_estimate(*, copy: Copy) -> JobEstimate:
    """What grading this one copy again should cost (shown before « Corriger à nouveau »);
    its tokens are what copy_rerun reserves. Raises ModelMisconfigured."""
    configs = slot_configs(copy.exam)
    ctx = _counted_context(copy.exam)
    prefix = prompt_tokens_estimate(ctx, image_tokens=IMAGE_TOKENS_DEFAULT)
    cards = {config.model: price_card(config.model) for config in configs.values()}
    tokens, cost = _copy_estimate(
        configs, pages=copy.pages.count(), prefix=prefix, questions=len(ctx.questions), cards=cards
    )
    calls = math.ceil(len(configs) * (1 + (VERIFICATION_SHARE if len(configs) > 1 else 0)))
    return JobEstimate(tokens=tokens, cost_usd=cost.quantize(Decimal("0.0001")), calls=calls, copies=1)


def copy_estimate_tokens(copy: Copy, *, configs: dict[str, RoleConfig], ctx: ExamContext | None = None) -> int:
    """The tokens one copy should need (what a job asks its reservation for, copy by copy)."""
    ctx = ctx or _counted_context(copy.exam)
    prefix = prompt_tokens_estimate(ctx, image_tokens=IMAGE_TOKENS_DEFAULT)
    pages = copy.pages.count()
    return _copy_estimate(configs, pages=pages, prefix=prefix, questions=len(ctx.questions), cards=None)[0]


# --- Worst cases: what a round of calls may cost at most, held before it is made ------------
# Characters per token assumed for the bound: real tokenizers average 4 on French and English
# prose and rarely go below 3 (digits, JSON); the scripted server counts 4.
BOUND_CHARS_PER_TOKEN = 3
BOUND_TOKENS_PER_MESSAGE = 8


def request_worst_tokens(request: Request, *, max_tokens: int | None = None) -> int:
    """A call's most tokens: its prompt's bound (text, each image at its provider's count,
    per-message overhead) + the answer's cap (`max_tokens`, else CORRIGO_LLM_MAX_TOKENS)."""
    return _prompt_bound(request) + (max_tokens or settings.CORRIGO_LLM_MAX_TOKENS)


def request_worst_cost(request: Request, *, card: PriceCard) -> Decimal:
    """A call's most dollars: its prompt's bound at the dearest input rate (a cache write may
    cost more than plain input), its answer's cap at the dearest output rate, both at the rates
    of the tier the bound falls in."""
    prompt = _prompt_bound(request)
    rates = card.for_prompt(prompt)
    output = max(rates.output, rates.reasoning or Decimal(0))
    return prompt * max(rates.input, rates.cache_write, rates.cache_read) + settings.CORRIGO_LLM_MAX_TOKENS * output


def _prompt_bound(request: Request) -> int:
    chars, images = 0, 0
    for message in request.messages:
        content = message.get("content")
        for part in [content] if isinstance(content, str) else content or []:
            if isinstance(part, str):
                chars += len(part)
            elif part.get("type") == "text":
                chars += len(part.get("text", ""))
            else:
                images += 1
    image_tokens = IMAGE_TOKENS.get(request.config.provider, IMAGE_TOKENS_DEFAULT)
    prompt = -(-chars // BOUND_CHARS_PER_TOKEN) + images * image_tokens
    return prompt + BOUND_TOKENS_PER_MESSAGE * len(request.messages)


def _first_round_worst(configs: dict[str, RoleConfig], *, prefix: int, pages: int, text_chars: int) -> int:
    total = 0
    for config in configs.values():
        image_tokens = IMAGE_TOKENS.get(config.provider, IMAGE_TOKENS_DEFAULT)
        text = text_chars + 150 * pages + 800
        prompt = (prefix * 4) // BOUND_CHARS_PER_TOKEN + pages * image_tokens + text // BOUND_CHARS_PER_TOKEN
        total += prompt + 4 * BOUND_TOKENS_PER_MESSAGE + settings.CORRIGO_LLM_MAX_TOKENS
    return total


def _copy_worst(configs: dict[str, RoleConfig], *, prefix: int, pages: int, text_chars: int) -> int:
    """The most a copy holds at once: its first round's worst case, and in double correction
    the verification round's on top (held after the first round spent at most its own). A
    verification prompt is the grading prompt plus the model's own answer and the other's
    readings, each at most an answer's cap (in characters: 4 per token, bound at 3)."""
    first = _first_round_worst(configs, prefix=prefix, pages=pages, text_chars=text_chars)
    if len(configs) < 2:
        return first
    answer = (4 * settings.CORRIGO_LLM_MAX_TOKENS) // BOUND_CHARS_PER_TOKEN
    verification = first + len(configs) * (2 * answer + 2 * BOUND_TOKENS_PER_MESSAGE)
    return first + verification


def copy_first_round_worst(copy: Copy, *, configs: dict[str, RoleConfig], ctx: ExamContext) -> int:
    """The first grading round's worst case, before its messages are built: each slot's prompt
    estimate with a third more for the bound, plus the answer's cap."""
    prefix = prompt_tokens_estimate(ctx, image_tokens=IMAGE_TOKENS_DEFAULT)
    pages = [page.text for page in copy.pages.all()]  # the pages prefetched for grading, if they are
    return _first_round_worst(configs, prefix=prefix, pages=len(pages), text_chars=sum(len(text) for text in pages))
