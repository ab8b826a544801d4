"""The agreement figures (grading/engine/metrics.py) against scikit-learn, and at their boundaries.

Pure: no database. scikit-learn is a test dependency only (requirements/test.txt).
"""

from __future__ import annotations

import math
import random
import warnings
from decimal import Decimal

import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

from grading.engine.metrics import (
    Agreement,
    agreement,
    exact_agreement,
    mean_absolute_error,
    quadratic_weighted_kappa,
    within_step_agreement,
)

D = Decimal


def sklearn_qwk(a, b, *, step, low, high) -> float:
    """scikit-learn's QWK on the grades as grid indices, every grid point from low to high a
    label (scikit-learn weighs label indices, not values: an unused grade between two used ones
    must still be a label)."""
    size = round((high - low) / step) + 1
    return float(
        cohen_kappa_score(
            [round((x - low) / step) for x in a],
            [round((y - low) / step) for y in b],
            weights="quadratic",
            labels=list(range(size)),
        )
    )


@pytest.mark.parametrize("seed", range(40))
def test_qwk_equals_scikit_learn_on_random_grades(seed):
    rng = random.Random(seed)
    step = rng.choice([D("0.25"), D("0.5"), D("1"), D("2")])
    top = rng.randint(1, 8)
    n = rng.randint(1, 30)
    grid = [step * k for k in range(top + 1)]
    a = [rng.choice(grid) for _ in range(n)]
    # A second rater near the first, off by a step or two now and then (a realistic grader).
    b = [min(max(x + step * rng.choice([0, 0, 0, 1, -1, 2]), grid[0]), grid[-1]) for x in a]
    values = a + b
    low, high = min(values), max(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nan warnings on degenerate draws, checked below
        expected = sklearn_qwk(a, b, step=step, low=low, high=high)
    got = quadratic_weighted_kappa(a, b, step=step)
    if math.isnan(expected):
        assert got == 1.0 and len(set(values)) == 1
    else:
        assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(20))
def test_qwk_equals_scikit_learns_default_labels_when_every_grade_is_used(seed):
    rng = random.Random(1000 + seed)
    a = [rng.randint(0, 4) for _ in range(25)] + [0, 1, 2, 3, 4]
    b = [rng.randint(0, 4) for _ in range(25)] + [4, 3, 2, 1, 0]
    assert quadratic_weighted_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"), abs=1e-12)


def test_qwk_weighs_the_distance_on_the_grid_not_the_rank_of_the_grade():
    # Grades 0 and 2 with no 1: two steps apart (weight 4), as scikit-learn with labels 0..2,
    # not its default labels [0, 2] (one rank apart).
    a, b = [0, 0, 2, 2], [0, 2, 2, 0]
    assert quadratic_weighted_kappa(a, b) == pytest.approx(sklearn_qwk(a, b, step=1, low=0, high=2))
    assert quadratic_weighted_kappa([0, 0, 2, 1], [0, 2, 2, 1]) == pytest.approx(
        cohen_kappa_score([0, 0, 2, 1], [0, 2, 2, 1], weights="quadratic")
    )


def test_qwk_is_one_when_every_pair_agrees():
    assert quadratic_weighted_kappa([0, 1, 2, 3], [0, 1, 2, 3]) == 1.0
    assert quadratic_weighted_kappa([D("0.5"), D("1.5")], [0.5, 1.5], step=D("0.5")) == 1.0


def test_qwk_is_one_when_both_raters_give_the_same_single_grade_where_scikit_learn_says_nan():
    with pytest.warns(UndefinedMetricWarning), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "A single label", UserWarning)
        assert math.isnan(cohen_kappa_score([3, 3, 3], [3, 3, 3], weights="quadratic"))
    assert quadratic_weighted_kappa([3, 3, 3], [3, 3, 3]) == 1.0
    assert quadratic_weighted_kappa([2], [2]) == 1.0


def test_qwk_is_zero_when_one_rater_gives_a_single_grade_and_the_other_does_not():
    a, b = [2, 2, 2, 2], [0, 1, 2, 3]
    assert quadratic_weighted_kappa(a, b) == 0.0 == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"))
    # A single differing pair: as scikit-learn, no better than chance.
    assert quadratic_weighted_kappa([1], [2]) == 0.0 == cohen_kappa_score([1], [2], weights="quadratic")


def test_qwk_of_reversed_grades_is_minus_one():
    assert quadratic_weighted_kappa([0, 1, 2], [2, 1, 0]) == pytest.approx(-1.0)


def test_qwk_with_ties_equals_scikit_learn():
    a = [1, 1, 1, 2, 2, 3, 3, 3, 3, 0]
    b = [1, 1, 2, 2, 2, 3, 2, 3, 3, 1]
    assert quadratic_weighted_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b, weights="quadratic"), abs=1e-12)


def test_qwk_on_half_point_steps_bins_onto_the_grid():
    a = [D("0"), D("0.5"), D("1"), D("1.5"), D("2")]
    b = [D("0.5"), D("0.5"), D("1.5"), D("1.5"), D("1")]
    expected = cohen_kappa_score([0, 1, 2, 3, 4], [1, 1, 3, 3, 2], weights="quadratic")
    assert quadratic_weighted_kappa(a, b, step=D("0.5")) == pytest.approx(expected, abs=1e-12)
    # Floats that missed the grid by float error land on the same categories.
    floats = [0.0, 0.1 + 0.4, 1.0, 1.5, 2.0000000001]
    assert quadratic_weighted_kappa(floats, b, step=0.5) == pytest.approx(expected, abs=1e-12)


def test_qwk_categories_span_low_to_high_when_given():
    # Empty categories outside the used range change nothing; the range must hold every grade.
    a, b = [1, 2, 3], [1, 3, 3]
    assert quadratic_weighted_kappa(a, b, low=0, high=10) == pytest.approx(quadratic_weighted_kappa(a, b))
    with pytest.raises(ValueError):
        quadratic_weighted_kappa(a, b, low=2, high=3)
    with pytest.raises(ValueError):
        quadratic_weighted_kappa(a, b, low=1, high=2)


def test_no_pair_gives_none_everywhere():
    assert quadratic_weighted_kappa([], []) is None
    assert mean_absolute_error([], []) is None
    assert exact_agreement([], [], 1) is None
    assert within_step_agreement([], [], 1) is None
    assert agreement([], [], 1) == Agreement(n=0, exact=None, within_step=None, mae=None, qwk=None)


@pytest.mark.parametrize(
    "call",
    [
        lambda a, b: quadratic_weighted_kappa(a, b),
        lambda a, b: mean_absolute_error(a, b),
        lambda a, b: exact_agreement(a, b, 1),
        lambda a, b: within_step_agreement(a, b, 1),
        lambda a, b: agreement(a, b, 1),
    ],
)
def test_paired_grades_of_different_lengths_are_refused(call):
    with pytest.raises(ValueError):
        call([1, 2, 3], [1, 2])


def test_a_step_of_zero_is_refused():
    with pytest.raises(ValueError):
        exact_agreement([1], [1], 0)


def test_mean_absolute_error_is_the_mean_gap_in_points():
    assert mean_absolute_error([0, 2, D("1.5")], [1, 2, D("0.5")]) == pytest.approx(2 / 3)
    assert mean_absolute_error([0.1 + 0.2], [0.3]) == pytest.approx(0.0, abs=1e-15)


def test_exact_agreement_compares_grades_rounded_to_the_step():
    # 1.24 and 1.0 round to 1 on a half-point grid; 1.25 rounds (half up) to 1.5.
    assert exact_agreement([1.24, D("1.25"), 2], [1, D("1.5"), 3], D("0.5")) == pytest.approx(2 / 3)
    # On a quarter-point grid 1.12 rounds to 1, 1.13 to 1.25.
    assert exact_agreement([1.12], [1], D("0.25")) == 1.0
    assert exact_agreement([1.13], [1], D("0.25")) == 0.0


def test_within_step_counts_a_gap_of_exactly_one_step_and_not_one_step_and_a_bit():
    step = D("0.5")
    assert within_step_agreement([D("2")], [D("2.5")], step) == 1.0
    assert within_step_agreement([D("2")], [D("2.5000001")], step) == 0.0
    assert within_step_agreement([D("2")], [D("2.4999999")], step) == 1.0
    assert within_step_agreement([2, 2, 2, 2], [2, 3, 1, 4], 1) == 0.75


def test_within_step_forgives_float_error_only():
    # 0.1 + 0.2 = 0.30000000000000004: a gap of 0.1 "plus float error" is within a 0.1 step.
    assert within_step_agreement([0.1 + 0.2], [0.2], 0.1) == 1.0
    assert within_step_agreement([0.3 + 1e-6], [0.2], 0.1) == 0.0


def test_agreement_gathers_every_figure():
    a = [0, 1, 2, 3, 4, 4]
    b = [0, 1, 3, 3, 2, 4]
    assert agreement(a, b, 1) == Agreement(
        n=6,
        exact=4 / 6,
        within_step=5 / 6,
        mae=pytest.approx(3 / 6),
        qwk=pytest.approx(cohen_kappa_score(a, b, weights="quadratic"), abs=1e-12),
    )
