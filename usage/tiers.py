"""The plans' token allowances: the one place they are written, and how FREE was sized.

FREE covers at least one class: CLASS_COPIES typical copies — tests/support/typical.py's
brevet blanc (four exercises, a two-page subject), scanned 4-page copies, double correction by
the production models openai/gpt-4o + anthropic/claude-sonnet-4-5, answers capped at
CORRIGO_LLM_MAX_TOKENS = 4 000. Figures of 2026-12-01:

1. Estimator (grading.services.estimate.job_estimate on that exam; tests/grading/
   test_free_class.py recomputes both and fails if the estimator moves):
   TYPICAL_COPY_TOKENS = 27 838 a copy (30 % of copies verified, its assumption), and
   TYPICAL_COPY_WORST = 80 364, the most one copy holds at once (first round's worst case,
   then the verification round's).
2. Measured: the benchmark's class (`make bench`, 30 copies × 4 pages, a Celery worker, litellm,
   the scripted server) spent per copy, by the ledger, mean 25 562 and max 25 702 tokens
   (30/30 done; printed by the bench of this commit's parent, `--only grading`);
   tests/grading/test_free_class.py grades the same class through the engine and checks the
   figure below within 1 %.
   Every copy went through the verification round there (4 calls a copy, 120 calls), and the
   scripted server counts 765 tokens an image where gpt-4o counts 1 105 and Claude 1 850 for
   these pages. Each call carries 6 images (4 pages + the subject's 2), 2 calls a model: at
   the providers' counts a copy verified costs 25 702 + 12 × (1 105 − 765) + 12 × (1 850 − 765)
   = 42 802 tokens (MEASURED_COPY_TOKENS). The estimator's per-call sizes agree with the
   measurement once images are counted alike; they differ only by the share of copies verified.
3. A job takes n copies when n × estimate + one margin (worst − estimate) fits
   (grading.services.estimate.reservation_for), and a copy holds its worst case before each
   round. A class in which every copy spends MEASURED_COPY_TOKENS finishes when
   29 × 42 802 + 80 364 = 1 321 622 tokens are there; by the estimator alone it would need
   29 × 27 838 + 80 364 = 887 666. FREE takes the larger, rounded up to the thousand:
   1 322 000. By the estimator's rule that is 45 typical copies (the 46th is offered as a
   partial launch); if every copy needs its verification round, 30.
4. Paid tiers are FREE's class every period, times 1, 5 and 20 (the launch plans' ratios,
   1.2 M / 6 M / 24 M): ESSENTIEL one class a month, PRO five, MAX twenty.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.TextChoices):
    FREE = "free", _("Gratuit")
    ESSENTIEL = "essentiel", _("Essentiel")
    PRO = "pro", _("Pro")
    MAX = "max", _("Max")


CLASS_COPIES = 30
TYPICAL_COPY_PAGES = 4
TYPICAL_COPY_TOKENS = 27_838  # the estimator's, a copy (docstring, 1)
TYPICAL_COPY_WORST = 80_364  # the most one copy holds at once (1)
MEASURED_COPY_TOKENS = 42_802  # measured, every copy verified, at the providers' image counts (2)
CLASS_TOKENS = (CLASS_COPIES - 1) * max(TYPICAL_COPY_TOKENS, MEASURED_COPY_TOKENS) + TYPICAL_COPY_WORST
FREE_TOKENS = -(-CLASS_TOKENS // 1000) * 1000  # 1 322 000

TIER_LIMITS: dict[str, int] = {
    Tier.FREE: FREE_TOKENS,  # once, never resets
    Tier.ESSENTIEL: FREE_TOKENS,  # per period
    Tier.PRO: 5 * FREE_TOKENS,
    Tier.MAX: 20 * FREE_TOKENS,
}


def copies_in(remaining: int, *, tokens: int, worst: int) -> int:
    """Copies of `tokens` each (`worst` at most held at once) that `remaining` tokens can grade:
    n × tokens plus one margin (worst − tokens) must fit, as when a job starts
    (grading.services.estimate.reservation_for)."""
    if tokens <= 0 or remaining < max(worst, tokens):
        return 0
    return (remaining - max(worst, tokens)) // tokens + 1


def typical_copies_in(tokens: int) -> int:
    """How many typical copies (4 pages, double correction) `tokens` can grade."""
    return copies_in(tokens, tokens=TYPICAL_COPY_TOKENS, worst=TYPICAL_COPY_WORST)


def tier_label(tier: str) -> str:
    """The tier's name as every page, email and admin column shows it (one source: Tier's labels)."""
    return str(Tier(tier).label)


# FREE is a one-shot trial; paid tiers reset at each billing period (or calendar month).
TIER_RESETS: dict[str, bool] = {tier: tier != Tier.FREE for tier in Tier}
