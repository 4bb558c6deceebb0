"""Sales forecast: ordinary least squares y = c0 + c1*m on monthly won amounts (spec section 5).

Month index convention: ``monthly_won[m]`` is the won amount of the m-th of the
last M complete months, m = 0 (oldest) .. M-1 (the latest complete month). The
forecast is for m = M, M+1, ... (the next months, starting with the current one).
The back-test fits on m = 0..M-4 and scores the mean squared error of its
predictions for the last 3 months, m = M-3..M-1. Solved with `numpy.linalg.lstsq`.
No Django import.
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.numbers import as_float_array, check_nonneg, ensure_valid

__all__ = ["BACKTEST_MONTHS", "MIN_MONTHS", "Forecast", "linear_trend", "sales_forecast"]

MIN_MONTHS = 6
BACKTEST_MONTHS = 3


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class Forecast:
    """The trend, the next months' forecast and the back-test error; `available` False with a `reason` otherwise."""

    available: bool
    c0: float
    c1: float
    forecast: np.ndarray  # shape (horizon,), months m = M .. M+horizon-1; empty if unavailable
    backtest_mse: float
    n_months: int
    reason: str | None


def linear_trend(y: npt.ArrayLike) -> tuple[float, float]:
    """Least-squares (c0, c1) of y[m] = c0 + c1*m, m = 0..len(y)-1, via `numpy.linalg.lstsq` (>= 2 points)."""
    values = as_float_array(y)
    months = np.arange(values.size, dtype=np.float64)
    design = np.column_stack([np.ones_like(months), months])
    (c0, c1), *_ = np.linalg.lstsq(design, values, rcond=None)
    return float(c0), float(c1)


def sales_forecast(monthly_won: npt.ArrayLike, horizon: int = 3) -> Forecast:
    """Trend, `horizon`-month forecast and back-test MSE of monthly won amounts (spec section 5).

    Needs M >= 6 complete months; fewer give a not-available result with a reason
    (no exception). Amounts must be finite and >= 0 (ValueError otherwise).
    """
    y = as_float_array(monthly_won)
    if y.ndim != 1:
        raise ValueError(f"monthly_won must be 1-D (one amount per month), got shape {y.shape}")
    if int(horizon) != horizon or horizon < 0:
        raise ValueError(f"horizon is {horizon!r}: must be an integer >= 0")
    ensure_valid(check_nonneg("monthly_won", y))
    months = int(y.size)
    if months < MIN_MONTHS:
        return Forecast(
            available=False,
            c0=math.nan,
            c1=math.nan,
            forecast=np.empty(0, dtype=np.float64),
            backtest_mse=math.nan,
            n_months=months,
            reason=f"Only {months} complete months of sales; at least {MIN_MONTHS} are needed.",
        )
    c0, c1 = linear_trend(y)
    ahead = np.arange(months, months + int(horizon), dtype=np.float64)
    b0, b1 = linear_trend(y[:-BACKTEST_MONTHS])
    held_out = np.arange(months - BACKTEST_MONTHS, months, dtype=np.float64)
    errors = y[-BACKTEST_MONTHS:] - (b0 + b1 * held_out)
    return Forecast(
        available=True,
        c0=c0,
        c1=c1,
        forecast=c0 + c1 * ahead,
        backtest_mse=float(np.mean(errors**2)),
        n_months=months,
        reason=None,
    )
