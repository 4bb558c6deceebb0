"""Visit effect: the share of completed visits followed by a sales event, against a no-visit baseline.

Pure NumPy, no Django import (the orchestration is `analytics.visit_effect`).

* An *event* on a customer is a forward stage move of one of its opportunities
  or an order; the kernels take events as (customer, time) pairs.
* A completed visit *has an effect* when an event on its customer happens within
  the horizon after its check-out: check-out < t <= check-out + horizon.
* The *baseline* is what happens without a visit: the period [start, end) is cut
  into consecutive windows of the horizon's length starting at `start`, keeping
  the whole windows that fit in the period (a period shorter than one window has
  none); over the baseline customers (not visited in the period) x windows, the
  share of (customer, window) pairs with an event start <= t - window_start < horizon.

Times are float epoch seconds; customers and groups integer ids. A share whose
denominator is 0 is NaN (undefined, spec section 2), never 0.
"""

import numpy as np
import numpy.typing as npt

from analytics.numbers import Check, as_float_array, as_group_index, check_finite, ensure_valid, group_sum

__all__ = [
    "HORIZON_SECONDS",
    "baseline_pairs",
    "effect_counts_by_group",
    "visits_with_effect",
]

HORIZON_SECONDS = 14 * 86_400.0


def _ids(values: npt.ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.size == 0:
        return array.astype(np.int64).reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer ids, got dtype {array.dtype}")
    return array.astype(np.int64)


def _times(values: npt.ArrayLike, name: str) -> np.ndarray:
    array = as_float_array(values)
    if array.size == 0:
        return array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    ensure_valid(check_finite(name, array))
    return array


def _same_length(**arrays: np.ndarray) -> None:
    (first, a), *rest = arrays.items()
    for name, other in rest:
        if len(other) != len(a):
            raise ValueError(f"{name} has {len(other)} elements but {first} has {len(a)}")


def _positive(value: float, name: str) -> float:
    number = float(value)
    if not (0 < number < np.inf):
        raise ValueError(f"{name} is {value!r}: must be a finite number > 0")
    return number


def visits_with_effect(
    visit_customer: npt.ArrayLike,
    visit_time: npt.ArrayLike,
    event_customer: npt.ArrayLike,
    event_time: npt.ArrayLike,
    horizon: float = HORIZON_SECONDS,
) -> np.ndarray:
    """For each visit (customer, check-out time), whether an event on its customer follows within `horizon`.

    Events are sorted once by an exact integer key (the rank of their customer
    among the events' customers, of their time among the events' times), so equal
    times never mis-order. A visit's key is its customer's rank and the number of
    event times at or before its check-out: one `numpy.searchsorted` finds the
    first event at or above it, the customer's first event strictly after the
    check-out (or another customer's: then there is none).
    """
    v_customer, e_customer = _ids(visit_customer, "visit_customer"), _ids(event_customer, "event_customer")
    v_time, e_time = _times(visit_time, "visit_time"), _times(event_time, "event_time")
    _same_length(visit_customer=v_customer, visit_time=v_time)
    _same_length(event_customer=e_customer, event_time=e_time)
    span = _positive(horizon, "horizon")
    if v_time.size == 0 or e_time.size == 0:
        return np.zeros(v_time.size, dtype=np.bool_)
    # Ranks among the events only: the visits (more numerous) are looked up, never sorted.
    customers, customer_rank = np.unique(e_customer, return_inverse=True)
    times, time_rank = np.unique(e_time, return_inverse=True)
    n_times = np.int64(times.size)
    event_key = customer_rank.astype(np.int64) * n_times + time_rank
    order = np.argsort(event_key, kind="stable")
    event_key, e_customer, e_time = event_key[order], e_customer[order], e_time[order]
    visit_key = np.searchsorted(customers, v_customer).astype(np.int64) * n_times + np.searchsorted(
        times, v_time, side="right"
    )
    nxt = np.searchsorted(event_key, visit_key)
    found = nxt < event_key.size
    at = np.minimum(nxt, event_key.size - 1)
    return found & (e_customer[at] == v_customer) & (e_time[at] - v_time <= span)


def baseline_pairs(
    baseline_customer: npt.ArrayLike,
    event_customer: npt.ArrayLike,
    event_time: npt.ArrayLike,
    *,
    period_start: float,
    period_end: float,
    window: float = HORIZON_SECONDS,
) -> tuple[int, int]:
    """(pairs with an event, all pairs) over baseline customers x whole windows of [period_start, period_end).

    Window k is [period_start + k*window, period_start + (k+1)*window), for the
    floor((period_end - period_start) / window) windows that fit in the period.
    Events of other customers, or outside every window, are ignored; duplicate
    baseline customers count once.
    """
    customers = np.unique(_ids(baseline_customer, "baseline_customer"))
    e_customer = _ids(event_customer, "event_customer")
    e_time = _times(event_time, "event_time")
    _same_length(event_customer=e_customer, event_time=e_time)
    start, end = float(period_start), float(period_end)
    ensure_valid(check_finite("(period_start, period_end)", np.array([start, end])))
    if end < start:
        raise ValueError(f"period_end {end!r} is before period_start {start!r}")
    span = _positive(window, "window")
    n_windows = int((end - start) // span)
    total = int(customers.size) * n_windows
    if total == 0:
        return 0, 0
    k = np.floor((e_time - start) / span)
    keep = (k >= 0) & (k < n_windows) & np.isin(e_customer, customers)
    pair = np.searchsorted(customers, e_customer[keep]) * np.int64(n_windows) + k[keep].astype(np.int64)
    return int(np.unique(pair).size), total


def effect_counts_by_group(
    effective: npt.ArrayLike, group_index: npt.ArrayLike, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """(effective visits as float64, visits as int64) per group in one `numpy.bincount` pass each."""
    flags = np.asarray(effective)
    if flags.dtype != np.bool_:
        ensure_valid(Check("effective", flags, (flags != 0) & (flags != 1), "a boolean (0 or 1)"))
    groups = as_group_index(group_index, n_groups)
    if groups.shape != flags.shape:
        raise ValueError(f"group_index has shape {groups.shape} but effective has {flags.shape}")
    count = np.bincount(groups.reshape(-1), minlength=int(n_groups)).astype(np.int64)
    hits = group_sum(flags.astype(np.float64), groups, int(n_groups))
    return hits, count
