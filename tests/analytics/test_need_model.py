"""Spec section 4: the need-probability fit, checked against closed forms, brute force and optimality."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.need_model import (
    MIN_SAMPLES,
    calibration_by_decile,
    need_log_loss,
    need_model_fit,
    need_probability,
)


def softplus(t):
    """log(1 + e^t) without overflow: -log P = softplus(-z) for a win, -log(1 - P) = softplus(z) for a loss."""
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


def log_loss(x, y, a, b):
    """Mean negative log-likelihood, one opportunity at a time."""
    total = 0.0
    for xi, yi in zip(x, y, strict=True):
        z = a + b * xi
        total += softplus(-z) if yi else softplus(z)
    return total / len(x)


def binary_sample(won_at_0: int, n_at_0: int, won_at_1: int, n_at_1: int):
    x = [0.0] * n_at_0 + [1.0] * n_at_1
    y = [1.0] * won_at_0 + [0.0] * (n_at_0 - won_at_0) + [1.0] * won_at_1 + [0.0] * (n_at_1 - won_at_1)
    return x, y


def test_binary_x_has_the_closed_form_solution():
    # With x in {0, 1} the MLE reproduces each group's share: P(0) = 3/10, P(1) = 7/10, so
    # a = logit(0.3) = ln(3/7) = -0.847298, b = logit(0.7) - logit(0.3) = 2 ln(7/3) = 1.694596, and
    # the log-loss is the entropy -(0.3 ln 0.3 + 0.7 ln 0.7) = 0.610864 in both groups.
    fit = need_model_fit(*binary_sample(3, 10, 7, 10))
    assert fit.fitted
    assert fit.reason is None
    assert fit.n == 20
    assert fit.a == pytest.approx(math.log(3 / 7), abs=1e-9)
    assert fit.b == pytest.approx(2 * math.log(7 / 3), abs=1e-9)
    assert fit.a == pytest.approx(-0.847298, abs=1e-6)
    assert fit.b == pytest.approx(1.694596, abs=1e-6)
    assert fit.log_loss == pytest.approx(0.610864, abs=1e-6)
    assert need_probability([0.0, 1.0], fit.a, fit.b).tolist() == pytest.approx([0.3, 0.7], abs=1e-9)


def test_matches_brute_force_maximisation():
    # 30 opportunities: visits 0..5, more visits, more wins, with overlap.
    x = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 1, 0, 2, 4]
    y = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    fit = need_model_fit(x, y)
    assert fit.fitted
    # Grid search on the plain-Python log-loss, refined around the best point each round.
    best_a, best_b, width = 0.0, 0.0, 8.0
    for _ in range(12):
        candidates = [
            (best_a + width * i / 10, best_b + width * j / 10) for i in range(-10, 11) for j in range(-10, 11)
        ]
        best_a, best_b = min(candidates, key=lambda ab: log_loss(x, y, *ab))
        width /= 4
    assert fit.a == pytest.approx(best_a, abs=1e-5)
    assert fit.b == pytest.approx(best_b, abs=1e-5)
    assert fit.log_loss == pytest.approx(log_loss(x, y, best_a, best_b), abs=1e-10)
    assert fit.log_loss <= log_loss(x, y, best_a, best_b) + 1e-12


@pytest.mark.parametrize(
    ("x", "y", "reason"),
    [
        ([1.0] * 19, [1.0, 0.0] * 9 + [1.0], r"^Only 19 closed opportunities; at least 20 are needed\.$"),
        ([], [], r"^Only 0 closed opportunities"),
        (list(range(25)), [1.0] * 25, r"^Perfectly separated: all 25 closed opportunities were won\.$"),
        (list(range(25)), [0.0] * 25, r"^Perfectly separated: all 25 closed opportunities were lost\.$"),
        # Won exactly when x >= 12: a threshold splits the classes.
        (list(range(25)), [float(i >= 12) for i in range(25)], r"^Perfectly separated: a threshold"),
        # Reversed: won exactly when x < 5.
        (list(range(25)), [float(i < 5) for i in range(25)], r"^Perfectly separated: a threshold"),
        # Quasi-complete: both classes at x = 12 only, still no finite maximum.
        (list(range(25)) + [12], [float(i >= 12) for i in range(25)] + [0.0], r"^Perfectly separated: a threshold"),
        ([2.0] * 25, [1.0, 0.0] * 12 + [1.0], r"^Every closed opportunity has the same engagement score \(2\)\.$"),
    ],
)
def test_not_fitted_says_why(x, y, reason):
    fit = need_model_fit(x, y)
    assert not fit.fitted
    assert fit.n == len(x)
    assert math.isnan(fit.a)
    assert math.isnan(fit.b)
    assert math.isnan(fit.log_loss)
    assert fit.reason is not None
    assert re.match(reason, fit.reason)


def test_one_overlapping_point_makes_it_fittable():
    x = list(range(25)) + [12.0, 13.0]
    y = [float(i >= 12) for i in range(25)] + [0.0, 0.0]  # lost at 13 overlaps won at 12
    fit = need_model_fit(x, y)
    assert fit.fitted
    assert fit.b > 0


@pytest.mark.parametrize(
    ("x", "y", "message"),
    [
        ([0.0] * 20, [0.0, 1.0, 0.0, 2.0] + [0.0] * 16, r"^y at index 3 is 2\.0: must be 0 \(lost\) or 1 \(won\)$"),
        ([0.0, math.nan] + [0.0] * 18, [0.0] * 20, r"^x at index 1 is nan: must be a finite number$"),
        ([0.0] * 3, [0.0] * 2, r"^x and y must be 1-D of the same length"),
    ],
)
def test_fit_rejects_invalid_input(x, y, message):
    with pytest.raises(ValueError, match=message):
        need_model_fit(x, y)


def test_need_probability_hand_computed():
    # a = ln 3, b = 0: 3 / (1 + 3) = 0.75 everywhere; a = 0, b = 1 at x = 0: 0.5.
    assert need_probability([0.0, 4.0], math.log(3), 0.0).tolist() == pytest.approx([0.75, 0.75])
    assert need_probability([0.0, math.log(3)], 0.0, 1.0).tolist() == pytest.approx([0.5, 0.75])
    # Far tails saturate without overflow warnings or NaN.
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert need_probability([-1000.0, 1000.0], 0.0, 1.0).tolist() == [0.0, 1.0]
    assert need_probability([], 0.0, 1.0).shape == (0,)
    with pytest.raises(ValueError, match=r"^x at index 1 is inf"):
        need_probability([1.0, math.inf], 0.0, 1.0)
    with pytest.raises(ValueError, match=r"^\(a, b\) at index 1 is nan"):
        need_probability([1.0], 0.0, math.nan)


@settings(deadline=None)
@given(
    st.lists(st.floats(min_value=-50, max_value=50), max_size=30),
    st.floats(min_value=-5, max_value=5),
    st.floats(min_value=-5, max_value=5),
)
def test_need_probability_matches_reference(x, a, b):
    expected = [1.0 / (1.0 + math.exp(-(a + b * xi))) for xi in x]
    np.testing.assert_allclose(need_probability(x, a, b), expected, rtol=1e-12, atol=1e-300)


@settings(deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.booleans()), min_size=MIN_SAMPLES, max_size=80),
)
def test_fit_is_the_optimum_or_says_why(sample):
    x = np.array([float(s[0]) for s in sample])
    y = np.array([float(s[1]) for s in sample])
    fit = need_model_fit(x, y)
    won = [s[0] for s in sample if s[1]]
    lost = [s[0] for s in sample if not s[1]]
    overlap = bool(won) and bool(lost) and max(lost) > min(won) and max(won) > min(lost)
    assert fit.fitted == overlap
    if not overlap:
        assert fit.reason
        return
    # The gradient of the mean log-loss vanishes at the optimum ...
    p = need_probability(x, fit.a, fit.b)
    assert abs(np.mean(p - y)) < 1e-7
    assert abs(np.mean((p - y) * x)) < 1e-6
    # ... and every nearby (a, b) does worse.
    assert fit.log_loss == pytest.approx(log_loss(x.tolist(), y.tolist(), fit.a, fit.b), rel=1e-9)
    for da, db in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3), (1e-3, -1e-3), (-1e-3, 1e-3)]:
        assert need_log_loss(x, y, fit.a + da, fit.b + db) > fit.log_loss


def test_not_fitted_reasons_carry_a_code():
    assert need_model_fit([1.0] * 5, [1.0] * 5).reason_code == "too_few"
    assert need_model_fit(list(range(25)), [1.0] * 25).reason_code == "all_won"
    assert need_model_fit(list(range(25)), [0.0] * 25).reason_code == "all_lost"
    assert need_model_fit(list(range(25)), [float(i >= 12) for i in range(25)]).reason_code == "separated"
    assert need_model_fit([2.0] * 25, [1.0, 0.0] * 12 + [1.0]).reason_code == "constant"
    assert need_model_fit(*binary_sample(3, 10, 7, 10)).reason_code is None


def test_calibration_by_decile_by_hand():
    # a = 0, b = 1: P rises with x. 12 opportunities, x = 0..11 given in reverse, so sorting matters.
    # array_split of 12 into 10 groups: the first two groups take 2, the rest 1 -> x {0,1}, {2,3}, 4, ..., 11.
    x = list(range(11, -1, -1))
    y = [1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0]  # y of x = 11, 10, ..., 0
    table = calibration_by_decile(x, y, 0.0, 1.0)
    assert table.count.tolist() == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert table.count.sum() == 12
    p = [1 / (1 + math.exp(-v)) for v in range(12)]
    expected_predicted = [(p[0] + p[1]) / 2, (p[2] + p[3]) / 2, *p[4:]]
    assert table.predicted.tolist() == pytest.approx(expected_predicted, rel=1e-12)
    # y by x ascending: x=0 -> 0, 1 -> 1, 2 -> 0, 3 -> 1, 4 -> 0, 5 -> 0, 6 -> 1, 7 -> 0, 8 -> 1, 9 -> 1,
    # 10 -> 0, 11 -> 1.
    assert table.observed.tolist() == [0.5, 0.5, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0]


def test_calibration_with_negative_slope_sorts_by_probability_not_x():
    # b < 0: the highest x has the lowest P and comes first.
    table = calibration_by_decile([0.0, 1.0, 2.0], [1.0, 0.0, 0.0], 0.0, -1.0, groups=3)
    assert table.predicted.tolist() == pytest.approx([1 / (1 + math.e**2), 1 / (1 + math.e), 0.5])
    assert table.observed.tolist() == [0.0, 0.0, 1.0]


def test_calibration_small_and_empty_and_invalid():
    few = calibration_by_decile([1.0, 2.0, 3.0], [0.0, 1.0, 1.0], 0.0, 1.0)
    assert few.count.tolist() == [1, 1, 1]  # fewer than 10: one group each, never an empty group
    empty = calibration_by_decile([], [], 0.0, 1.0)
    assert (len(empty), empty.count.dtype) == (0, np.int64)
    with pytest.raises(ValueError, match=r"^y at index 1 is 3\.0"):
        calibration_by_decile([0.0, 1.0], [0.0, 3.0], 0.0, 1.0)
    with pytest.raises(ValueError, match=r"^groups is 0"):
        calibration_by_decile([0.0], [0.0], 0.0, 1.0, groups=0)
    with pytest.raises(ValueError, match=r"^x and y must be 1-D of the same length"):
        calibration_by_decile([0.0, 1.0], [0.0], 0.0, 1.0)


@settings(deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.booleans()), min_size=1, max_size=60))
def test_calibration_counts_sum_to_n_and_preserve_totals(sample):
    x = np.array([float(s[0]) for s in sample])
    y = np.array([float(s[1]) for s in sample])
    table = calibration_by_decile(x, y, -0.5, 0.4)
    assert table.count.sum() == len(sample)
    assert table.count.max() - table.count.min() <= 1
    assert np.all(np.diff(table.predicted) >= -1e-15)  # groups in order of P
    assert (table.observed * table.count).sum() == pytest.approx(y.sum())
    assert (table.predicted * table.count).sum() == pytest.approx(need_probability(x, -0.5, 0.4).sum())
