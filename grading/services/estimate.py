"""What grading an exam will cost before it starts: tokens, dollars, calls; and each slot's
model, checked (model, key, price) so a misconfiguration is refused before anything is held."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from usage.selectors import PriceCard, PriceMissing, price_card

from ..engine.asking import Request
from ..engine.config import RoleConfig, role_check, role_config, roles_for_mode
from ..engine.errors import ModelMisconfigured
from ..engine.prompts import ExamContext, exam_context, prompt_tokens_estimate
from ..models import Copy, Exam
from ..selectors.exams import gradable_copies

# Which slot of a double correction each grader role fills.
SLOTS = {"grader_a": "a", "grader_b": "b"}
# Image tokens per page as each provider counts a 990 × 1400 JPEG (see engine.render).
IMAGE_TOKENS = {"anthropic": 1850, "gemini": 1032, "vertex_ai": 1032}
IMAGE_TOKENS_DEFAULT = 1105
COMPLETION_TOKENS_PER_QUESTION = 160
VERIFICATION_SHARE = 0.3  # expected share of double-corrected copies needing a verification round


@dataclass(frozen=True)
class JobEstimate:
    tokens: int
    cost_usd: Decimal
    calls: int
    copies: int = 0

    @property
    def tokens_per_copy(self) -> int:
        return math.ceil(self.tokens / self.copies) if self.copies else 0


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


def job_estimate(*, exam: Exam) -> JobEstimate:
    """Tokens, cost (USD, without caching discounts) and calls to grade the gradable copies.

    The question count and the prices are read once, not per copy."""
    configs = slot_configs(exam)
    prefix = prompt_tokens_estimate(exam_context(exam, render_subject=False), image_tokens=IMAGE_TOKENS_DEFAULT)
    questions = exam.questions.count()
    cards = {config.model: price_card(config.model) for config in configs.values()}
    tokens, cost, copies = 0, Decimal(0), 0
    for copy in gradable_copies(exam):
        copy_tokens, copy_cost = _copy_estimate(
            configs, pages=copy.page_total, prefix=prefix, questions=questions, cards=cards
        )
        tokens += copy_tokens
        cost += copy_cost
        copies += 1
    per_copy_calls = len(configs) * (1 + (VERIFICATION_SHARE if len(configs) > 1 else 0))
    return JobEstimate(
        tokens=tokens,
        cost_usd=cost.quantize(Decimal("0.0001")),
        calls=math.ceil(copies * per_copy_calls),
        copies=copies,
    )


def copy_estimate(*, copy: Copy) -> JobEstimate:
    """What grading this one copy again should cost (shown before « Corriger à nouveau »);
    its tokens are what copy_rerun reserves. Raises ModelMisconfigured."""
    configs = slot_configs(copy.exam)
    ctx = exam_context(copy.exam, render_subject=False)
    prefix = prompt_tokens_estimate(ctx, image_tokens=IMAGE_TOKENS_DEFAULT)
    cards = {config.model: price_card(config.model) for config in configs.values()}
    tokens, cost = _copy_estimate(
        configs, pages=copy.pages.count(), prefix=prefix, questions=len(ctx.questions), cards=cards
    )
    calls = math.ceil(len(configs) * (1 + (VERIFICATION_SHARE if len(configs) > 1 else 0)))
    return JobEstimate(tokens=tokens, cost_usd=cost.quantize(Decimal("0.0001")), calls=calls, copies=1)


def copy_estimate_tokens(copy: Copy, *, configs: dict[str, RoleConfig], ctx: ExamContext | None = None) -> int:
    """The tokens one copy should need (what a job asks its reservation for, copy by copy)."""
    ctx = ctx or exam_context(copy.exam, render_subject=False)
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


def copy_first_round_worst(copy: Copy, *, configs: dict[str, RoleConfig], ctx: ExamContext) -> int:
    """The first grading round's worst case, before its messages are built: each slot's prompt
    estimate with a third more for the bound, plus the answer's cap."""
    prefix = prompt_tokens_estimate(ctx, image_tokens=IMAGE_TOKENS_DEFAULT)
    pages = list(copy.pages.values_list("text", flat=True))
    total = 0
    for config in configs.values():
        image_tokens = IMAGE_TOKENS.get(config.provider, IMAGE_TOKENS_DEFAULT)
        text = sum(len(text) + 150 for text in pages) + 800
        prompt = (prefix * 4) // BOUND_CHARS_PER_TOKEN + len(pages) * image_tokens + text // BOUND_CHARS_PER_TOKEN
        total += prompt + 4 * BOUND_TOKENS_PER_MESSAGE + settings.CORRIGO_LLM_MAX_TOKENS
    return total
