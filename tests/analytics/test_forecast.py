"""Spec section 5: the OLS sales forecast and its back-test, by hand and against the normal equations."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.forecast import MIN_MONTHS, sales_forecast
from analytics.numbers import nan_to_none


def ols(y):
    """c0, c1 of y = c0 + c1*m by the textbook sums, m = 0..len(y)-1."""
    n = len(y)
    mean_m = (n - 1) / 2
    mean_y = sum(y) / n
    sxy = sum((m - mean_m) * (v - mean_y) for m, v in enumerate(y))
    sxx = sum((m - mean_m) ** 2 for m in range(n))
    c1 = sxy / sxx
    return mean_y - c1 * mean_m, c1


def test_exact_line():
    # y = 100 + 10 m: the fit is the line, the next months continue it, the back-test is perfect.
    f = sales_forecast([100.0, 110.0, 120.0, 130.0, 140.0, 150.0])
    assert f.available
    assert f.reason is None
    assert f.n_months == 6
    assert (f.c0, f.c1) == pytest.approx((100.0, 10.0))
    assert f.forecast.tolist() == pytest.approx([160.0, 170.0, 180.0])
    assert f.backtest_mse == pytest.approx(0.0, abs=1e-18)


def test_hand_computed_fit_and_backtest():
    # m = 0..5, y = 10, 12, 9, 15, 14, 18: mean m 2.5, mean y 13, Sxy = 26, Sxx = 17.5
    # c1 = 26 / 17.5 = 1.485714, c0 = 13 - 2.5 c1 = 9.285714; forecast m = 6, 7, 8: 18.2, 19.685714, 21.171429
    f = sales_forecast([10.0, 12.0, 9.0, 15.0, 14.0, 18.0])
    assert f.c1 == pytest.approx(26 / 17.5)
    assert f.c0 == pytest.approx(13 - 2.5 * 26 / 17.5)
    assert f.forecast.tolist() == pytest.approx([18.2, 19.685714, 21.171429], abs=1e-6)
    # Back-test: fit on 10, 12, 9 -> y = 10.8333 - 0.5 m; predicts 9.3333, 8.8333, 8.3333 for m = 3, 4, 5;
    # errors 5.6667, 5.1667, 9.6667; MSE = (32.1111 + 26.6944 + 93.4444) / 3 = 50.75
    assert f.backtest_mse == pytest.approx(50.75)


def test_horizon():
    assert sales_forecast([1.0] * 8, horizon=5).forecast.tolist() == pytest.approx([1.0] * 5)
    assert sales_forecast([1.0] * 8, horizon=0).forecast.shape == (0,)


@pytest.mark.parametrize("months", [0, 1, 5])
def test_fewer_than_six_months_is_not_available(months):
    f = sales_forecast([100.0] * months)
    assert not f.available
    assert f.n_months == months
    assert f.reason == f"Only {months} complete months of sales; at least {MIN_MONTHS} are needed."
    assert f.forecast.shape == (0,)
    assert nan_to_none(f.c0) is None
    assert nan_to_none(f.backtest_mse) is None


@pytest.mark.parametrize(
    ("y", "kwargs", "message"),
    [
        ([1.0, 2.0, -3.0, 4.0, 5.0, 6.0], {}, r"^monthly_won at index 2 is -3\.0: must be a finite number >= 0$"),
        ([1.0, math.nan] * 3, {}, r"^monthly_won at index 1 is nan"),
        ([[1.0] * 6], {}, r"^monthly_won must be 1-D"),
        ([1.0] * 6, {"horizon": -1}, r"^horizon is -1: must be an integer >= 0$"),
    ],
)
def test_rejects(y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sales_forecast(y, **kwargs)


@settings(deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=MIN_MONTHS, max_size=36))
def test_matches_normal_equations(y):
    f = sales_forecast(y)
    c0, c1 = ols(y)
    scale = max(max(y), 1.0)
    assert f.c0 == pytest.approx(c0, rel=1e-9, abs=1e-9 * scale)
    assert f.c1 == pytest.approx(c1, rel=1e-9, abs=1e-9 * scale)
    n = len(y)
    expected = [c0 + c1 * m for m in range(n, n + 3)]
    np.testing.assert_allclose(f.forecast, expected, rtol=1e-9, atol=1e-8 * scale)
    b0, b1 = ols(y[:-3])
    mse = sum((y[m] - (b0 + b1 * m)) ** 2 for m in range(n - 3, n)) / 3
    assert f.backtest_mse == pytest.approx(mse, rel=1e-7, abs=1e-9 * scale**2)
