"""Need (purchase) probability P(x) = 1 / (1 + exp(-(a + b*x))): spec section 4.

x is an opportunity's engagement score (completed visits to its customer between
its creation and its close, or `as_of` while open); y is 1 for Won, 0 for Lost.
a and b are the unpenalised maximum-likelihood estimates, found by Newton's method
(iteratively reweighted least squares) with step halving. No Django import.

The model is not fitted, with a reason for the UI, when there are fewer than 20
closed opportunities or when the maximum-likelihood estimate does not exist: for
one predictor with an intercept that is exactly when a threshold on x separates
won from lost (all won at x >= c and all lost at x <= c, or the reverse; this
includes the all-won and all-lost cases), and when every x is the same (a and b
cannot be told apart).
"""

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.numbers import Check, as_float_array, check_finite, ensure_valid

__all__ = [
    "CALIBRATION_GROUPS",
    "MIN_SAMPLES",
    "NOT_FITTED_REASONS",
    "Calibration",
    "NeedModelFit",
    "calibration_by_decile",
    "need_log_loss",
    "need_model_fit",
    "need_probability",
]

MIN_SAMPLES = 20
CALIBRATION_GROUPS = 10
# Stable codes of the not-fitted reasons: the application translates them for people.
TOO_FEW, ALL_WON, ALL_LOST, SEPARATED, CONSTANT, NOT_CONVERGED = (
    "too_few",
    "all_won",
    "all_lost",
    "separated",
    "constant",
    "not_converged",
)
NOT_FITTED_REASONS = (TOO_FEW, ALL_WON, ALL_LOST, SEPARATED, CONSTANT, NOT_CONVERGED)
_TOLERANCE = 1e-10  # on the Newton step, in standardised units
_MAX_ITERATIONS = 100
_MAX_HALVINGS = 60


@dataclass(frozen=True)
class NeedModelFit:
    """A fit of a and b (spec section 4); when `fitted` is False, a, b and log_loss are NaN and `reason` says why.

    `reason_code` is one of `NOT_FITTED_REASONS` when not fitted (None when fitted):
    `reason` is English for logs, the code is what an interface translates.
    """

    fitted: bool
    a: float
    b: float
    n: int
    log_loss: float
    reason: str | None
    reason_code: str | None = None


def need_probability(x: npt.ArrayLike, a: float, b: float) -> np.ndarray:
    """P(x) = 1 / (1 + exp(-(a + b*x))), element-wise (spec section 4)."""
    score = as_float_array(x)
    params = as_float_array([a, b])
    ensure_valid(check_finite("x", score))
    ensure_valid(check_finite("(a, b)", params))
    z = np.asarray(params[0] + params[1] * score, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):  # exp(-z) -> inf gives the right limit, 0
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _negative_log_likelihood(z: np.ndarray, y: np.ndarray) -> float:
    # -sum(y*log p + (1-y)*log(1-p)) = sum(log(1 + e^z) - y*z), stable for any z.
    return float(np.sum(np.logaddexp(0.0, z) - y * z))


def need_log_loss(x: npt.ArrayLike, y: npt.ArrayLike, a: float, b: float) -> float:
    """Mean negative log-likelihood (natural log) of outcomes `y` (0/1) under P(x); NaN for no data."""
    score = as_float_array(x)
    outcome = as_float_array(y)
    if score.size == 0:
        return float("nan")
    return _negative_log_likelihood(a + b * score, outcome) / score.size


def _not_fitted(n: int, code: str, reason: str) -> NeedModelFit:
    return NeedModelFit(fitted=False, a=math.nan, b=math.nan, n=n, log_loss=math.nan, reason=reason, reason_code=code)


def need_model_fit(x: npt.ArrayLike, y: npt.ArrayLike) -> NeedModelFit:
    """Fit a and b on closed opportunities: `x` engagement scores, `y` 1 = Won, 0 = Lost (spec section 4).

    Returns a not-fitted result (never raises) for fewer than 20 samples, a
    constant x, or perfectly separated data; raises ValueError for invalid input
    (non-finite x, y other than 0/1, mismatched shapes).
    """
    score = as_float_array(x)
    outcome = as_float_array(y)
    if score.ndim != 1 or score.shape != outcome.shape:
        raise ValueError(f"x and y must be 1-D of the same length, got shapes {score.shape} and {outcome.shape}")
    ensure_valid(check_finite("x", score), Check("y", outcome, (outcome != 0) & (outcome != 1), "0 (lost) or 1 (won)"))
    n = int(score.size)
    if n < MIN_SAMPLES:
        return _not_fitted(n, TOO_FEW, f"Only {n} closed opportunities; at least {MIN_SAMPLES} are needed.")
    won = outcome == 1
    n_won = int(won.sum())
    if n_won in (0, n):
        outcome_word = "won" if n_won == n else "lost"
        code = ALL_WON if n_won == n else ALL_LOST
        return _not_fitted(n, code, f"Perfectly separated: all {n} closed opportunities were {outcome_word}.")
    if score.min() == score.max():
        return _not_fitted(n, CONSTANT, f"Every closed opportunity has the same engagement score ({score[0]:g}).")
    won_x, lost_x = score[won], score[~won]
    # The MLE exists iff the classes overlap strictly on x (Albert & Anderson, 1984).
    if not (lost_x.max() > won_x.min() and won_x.max() > lost_x.min()):
        return _not_fitted(
            n, SEPARATED, "Perfectly separated: a threshold on the engagement score splits won from lost exactly."
        )
    return _newton(score, outcome)


def _newton(x: np.ndarray, y: np.ndarray) -> NeedModelFit:
    n = x.size
    # Standardising x conditions the 2x2 Hessian; a and b are mapped back at the end.
    centre = float(x.mean())
    spread = float(x.std())
    design = np.column_stack([np.ones(n), (x - centre) / spread])
    mean_y = float(y.mean())
    beta = np.array([math.log(mean_y / (1.0 - mean_y)), 0.0])
    z = design @ beta
    loss = _negative_log_likelihood(z, y)
    converged = False
    for _ in range(_MAX_ITERATIONS):  # iterations of the fit, not records
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow
        gradient = design.T @ (p - y)
        hessian = (design.T * (p * (1.0 - p))) @ design
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            break
        scale = 1.0
        for _ in range(_MAX_HALVINGS):  # step halving: never accept a worse likelihood
            candidate = beta - scale * step
            candidate_z = design @ candidate
            candidate_loss = _negative_log_likelihood(candidate_z, y)
            if candidate_loss <= loss + 1e-12 * max(1.0, abs(loss)):
                break
            scale *= 0.5
        else:
            # No step improves the likelihood: an optimum when the gradient is ~0.
            converged = float(np.max(np.abs(gradient))) <= 1e-8 * n
            break
        beta, z, loss = candidate, candidate_z, candidate_loss
        if float(np.max(np.abs(scale * step))) < _TOLERANCE:
            converged = True
            break
    if not converged:
        return _not_fitted(n, NOT_CONVERGED, "The maximum-likelihood fit did not converge.")
    a = float(beta[0] - beta[1] * centre / spread)
    b = float(beta[1] / spread)
    return NeedModelFit(fitted=True, a=a, b=b, n=n, log_loss=need_log_loss(x, y, a, b), reason=None)


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class Calibration:
    """Predicted against observed by group of predicted probability, lowest P first.

    `predicted` is the mean P(x) of a group, `observed` its share of wins (a
    fraction) and `count` its size; groups are never empty, and their counts sum
    to the number of opportunities.
    """

    predicted: np.ndarray
    observed: np.ndarray
    count: np.ndarray  # int64

    def __len__(self) -> int:
        return len(self.count)


def calibration_by_decile(
    x: npt.ArrayLike, y: npt.ArrayLike, a: float, b: float, groups: int = CALIBRATION_GROUPS
) -> Calibration:
    """Calibration table of P(x) on outcomes `y` (1 = Won, 0 = Lost), in `groups` near-equal groups.

    The opportunities are sorted by P(x) (a stable sort: ties keep their input
    order) and cut like `numpy.array_split`: sizes differ by at most one, the first
    `n % groups` groups take the extra one. Fewer than `groups` opportunities give
    one group each; none give empty arrays.
    """
    score = as_float_array(x)
    outcome = as_float_array(y)
    if score.ndim != 1 or score.shape != outcome.shape:
        raise ValueError(f"x and y must be 1-D of the same length, got shapes {score.shape} and {outcome.shape}")
    if int(groups) != groups or groups < 1:
        raise ValueError(f"groups is {groups!r}: must be an integer >= 1")
    ensure_valid(check_finite("x", score), Check("y", outcome, (outcome != 0) & (outcome != 1), "0 (lost) or 1 (won)"))
    p = need_probability(score, a, b)
    n = score.size
    k = min(int(groups), n)
    if k == 0:
        return Calibration(predicted=np.empty(0), observed=np.empty(0), count=np.empty(0, dtype=np.int64))
    order = np.argsort(p, kind="stable")
    sizes = np.full(k, n // k, dtype=np.int64)
    sizes[: n % k] += 1  # the split of numpy.array_split
    group = np.repeat(np.arange(k), sizes)  # group of each position in the sorted order
    count = np.bincount(group, minlength=k)
    predicted = np.bincount(group, weights=p[order], minlength=k) / count
    observed = np.bincount(group, weights=outcome[order], minlength=k) / count
    return Calibration(predicted=predicted, observed=observed, count=count)
