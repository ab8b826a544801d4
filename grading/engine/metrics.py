"""Agreement between two graders (the AI and a teacher, or two models): pure Python figures.

The figures published studies of automated grading report, computed on paired grades:

- `quadratic_weighted_kappa`: Cohen's kappa with quadratic weights on the rounding-step grid,
  equal to scikit-learn's `cohen_kappa_score(x, y, weights="quadratic", labels=range(K))` on
  the binned grades (tests/grading/test_metrics.py compares them);
- `mean_absolute_error`: the mean gap in points;
- `exact_agreement`: the share of pairs equal once rounded to the step;
- `within_step_agreement`: the share of pairs at most one step apart;
- `agreement`: all of them at once (`Agreement`).

Grades come as floats or Decimals. Every function raises ValueError when the two sequences
differ in length (a pairing bug, never a figure), and returns None when there is no pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

Number = float | int | Decimal

# Grades that went through float arithmetic (0.1 + 0.2) may miss a step boundary by a few ulps:
# a gap within this share of the step still counts as "within one step".
STEP_TOLERANCE = Decimal("1e-9")


def _decimal(value: Number) -> Decimal:
    # str() first: Decimal(0.1) is 0.1000000000000000055…, Decimal("0.1") is what was meant.
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _pairs(a: Sequence[Number], b: Sequence[Number]) -> list[tuple[Decimal, Decimal]]:
    if len(a) != len(b):
        raise ValueError(f"paired grades differ in length: {len(a)} != {len(b)}")
    return [(_decimal(x), _decimal(y)) for x, y in zip(a, b, strict=True)]


def _step(step: Number) -> Decimal:
    value = _decimal(step)
    if value <= 0:
        raise ValueError(f"the step must be positive, not {step}")
    return value


def _bin(value: Decimal, *, low: Decimal, step: Decimal) -> int:
    """The index of `value` on the grid low, low + step, …; half a step rounds up (as the
    engine rounds points, schema.normalise_points)."""
    return int(((value - low) / step).to_integral_value(rounding=ROUND_HALF_UP))


def quadratic_weighted_kappa(
    a: Sequence[Number],
    b: Sequence[Number],
    step: Number = 1,
    low: Number | None = None,
    high: Number | None = None,
) -> float | None:
    """Cohen's kappa with quadratic weights: 1 is perfect agreement, 0 what chance gives.

    Each grade is binned onto the step grid, k = round((v - low) / step), and the categories
    are every grid point from `low` to `high` (by default the lowest and highest grade of both
    raters), used or not: a gap of two steps weighs 4 even when no one gave the grade between.
    A grade outside [low, high] raises ValueError.

    Degenerate cases:
    - no pair: None;
    - both raters give one and the same category to every pair: 1.0. The chance term is 0 there,
      and scikit-learn returns nan (with a warning); the raters never disagreed, so 1.0;
    - otherwise the chance term is positive and the figure is scikit-learn's: one rater giving a
      single category and the other not gives exactly 0.0 (so does a single differing pair).
    """
    pairs = _pairs(a, b)
    if not pairs:
        return None
    grid = _step(step)
    values = [v for pair in pairs for v in pair]
    lo = _decimal(low) if low is not None else min(values)
    hi = _decimal(high) if high is not None else max(values)
    if hi < lo:
        raise ValueError(f"high ({hi}) is below low ({lo})")
    size = _bin(hi, low=lo, step=grid) + 1
    binned = [(_bin(x, low=lo, step=grid), _bin(y, low=lo, step=grid)) for x, y in pairs]
    for (i, j), (x, y) in zip(binned, pairs, strict=True):
        if not (0 <= i < size and 0 <= j < size):
            raise ValueError(f"grade {x if not 0 <= i < size else y} outside [{lo}, {hi}]")
    n = len(binned)
    observed = [[0] * size for _ in range(size)]
    rows = [0] * size
    cols = [0] * size
    for i, j in binned:
        observed[i][j] += 1
        rows[i] += 1
        cols[j] += 1
    # kappa = 1 - Σ w·O / Σ w·E with E = rows ⊗ cols / n; both sums multiplied by n (integers).
    disagreement = sum((i - j) ** 2 * observed[i][j] for i in range(size) for j in range(size)) * n
    chance = sum((i - j) ** 2 * rows[i] * cols[j] for i in range(size) for j in range(size))
    if chance == 0:
        # Only when every grade of both raters is in one category (disagreement is 0 too).
        return 1.0
    return 1.0 - disagreement / chance


def mean_absolute_error(a: Sequence[Number], b: Sequence[Number]) -> float | None:
    """The mean of |a - b| in points, None without a pair."""
    pairs = _pairs(a, b)
    if not pairs:
        return None
    return float(sum(abs(x - y) for x, y in pairs) / len(pairs))


def exact_agreement(a: Sequence[Number], b: Sequence[Number], step: Number) -> float | None:
    """The share of pairs equal once both are rounded to the step (half up), None without a pair."""
    pairs = _pairs(a, b)
    if not pairs:
        return None
    grid = _step(step)
    zero = Decimal(0)
    same = sum(1 for x, y in pairs if _bin(x, low=zero, step=grid) == _bin(y, low=zero, step=grid))
    return same / len(pairs)


def within_step_agreement(a: Sequence[Number], b: Sequence[Number], step: Number) -> float | None:
    """The share of pairs with |a - b| ≤ step (within STEP_TOLERANCE of a step for float
    error), None without a pair."""
    pairs = _pairs(a, b)
    if not pairs:
        return None
    grid = _step(step)
    limit = grid * (1 + STEP_TOLERANCE)
    return sum(1 for x, y in pairs if abs(x - y) <= limit) / len(pairs)


@dataclass(frozen=True)
class Agreement:
    """Every figure for one set of paired grades (None for each figure when n is 0)."""

    n: int
    exact: float | None
    within_step: float | None
    mae: float | None
    qwk: float | None


def agreement(
    a: Sequence[Number],
    b: Sequence[Number],
    step: Number,
    low: Number | None = None,
    high: Number | None = None,
) -> Agreement:
    """Exact and within-one-step agreement, MAE and QWK of the paired grades."""
    if len(a) != len(b):
        raise ValueError(f"paired grades differ in length: {len(a)} != {len(b)}")
    return Agreement(
        n=len(a),
        exact=exact_agreement(a, b, step),
        within_step=within_step_agreement(a, b, step),
        mae=mean_absolute_error(a, b),
        qwk=quadratic_weighted_kappa(a, b, step, low=low, high=high),
    )
