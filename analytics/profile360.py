"""Customer 360: five dimensions per customer on 0..100, and group means (spec section 6).

One element per customer, aggregated by the caller over the last 365 days; one
vectorised pass computes every customer. NaN marks a dimension that is undefined
for a customer (no completed visits, no planned visits, no score...): it is
shown as "—" and ignored by `group_means`. No Django import.

* demand: needs raised per completed visit, scaled so the highest customer is 100;
* behaviour: (completed visits + orders) per month observed, scaled likewise;
* value: 100 * T1 (spec section 1);
* relationship: 100 * planned visits completed / planned visits;
* satisfaction: 25 * (mean actual satisfaction - 1), scores 1..5 -> 0..100.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.numbers import (
    Check,
    as_float_array,
    as_group_index,
    check_fraction,
    check_nonneg,
    check_score,
    ensure_valid,
    ratio,
)

__all__ = ["DIMENSIONS", "Profile360", "group_means", "profile360"]

DIMENSIONS = ("demand", "behaviour", "value", "relationship", "satisfaction")


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class Profile360:
    """The five dimensions, each an array with one value per customer in [0, 100] or NaN."""

    demand: np.ndarray
    behaviour: np.ndarray
    value: np.ndarray
    relationship: np.ndarray
    satisfaction: np.ndarray

    def as_matrix(self) -> np.ndarray:
        """Shape (n_customers, 5), columns in `DIMENSIONS` order (for `group_means`)."""
        return np.column_stack([getattr(self, name) for name in DIMENSIONS])


def _scaled_to_max(raw: np.ndarray) -> np.ndarray:
    """100 * raw / max(raw) over the defined values; 0 where the max is 0; NaN stays NaN."""
    defined = ~np.isnan(raw)
    if not defined.any():
        return raw.copy()
    top = float(raw[defined].max())
    if top == 0.0:
        return np.where(defined, 0.0, np.nan)
    return 100.0 * raw / top


def profile360(
    *,
    needs_raised: npt.ArrayLike,
    completed_visits: npt.ArrayLike,
    orders: npt.ArrayLike,
    months_observed: npt.ArrayLike,
    t1: npt.ArrayLike,
    planned_visits: npt.ArrayLike,
    planned_completed: npt.ArrayLike,
    mean_actual_satisfaction: npt.ArrayLike,
) -> Profile360:
    """The five dimensions of every customer (spec section 6).

    Per customer over the last 365 days: `needs_raised` on its completed visits,
    `completed_visits`, `orders`, `months_observed` (months of the window the
    customer existed, > 0 for a defined behaviour), `t1` (T1 of the latest run, a
    fraction), `planned_visits` and `planned_completed` (how many of those were
    completed), `mean_actual_satisfaction` (1..5, NaN when never scored).
    """
    needs = as_float_array(needs_raised)
    completed = as_float_array(completed_visits)
    order_count = as_float_array(orders)
    months = as_float_array(months_observed)
    value = as_float_array(t1)
    planned = as_float_array(planned_visits)
    planned_done = as_float_array(planned_completed)
    satisfaction = as_float_array(mean_actual_satisfaction)
    ensure_valid(
        check_nonneg("needs_raised", needs),
        check_nonneg("completed_visits", completed),
        check_nonneg("orders", order_count),
        check_nonneg("months_observed", months),
        check_fraction("t1", value),
        check_nonneg("planned_visits", planned),
        check_nonneg("planned_completed", planned_done),
        Check("planned_completed", planned_done, planned_done > planned, "<= planned_visits"),
        check_score("mean_actual_satisfaction", satisfaction),
    )
    shape = np.broadcast_shapes(*(a.shape for a in (needs, completed, order_count, months, value, planned)))
    shape = np.broadcast_shapes(shape, planned_done.shape, satisfaction.shape)
    return Profile360(
        demand=np.broadcast_to(_scaled_to_max(ratio(needs, completed)), shape).copy(),
        behaviour=np.broadcast_to(_scaled_to_max(ratio(completed + order_count, months)), shape).copy(),
        value=np.broadcast_to(100.0 * value, shape).copy(),
        relationship=np.broadcast_to(ratio(planned_done, planned, scale=100.0), shape).copy(),
        satisfaction=np.broadcast_to(25.0 * (satisfaction - 1.0), shape).copy(),
    )


def group_means(values: npt.ArrayLike, group_index: npt.ArrayLike, n_groups: int) -> np.ndarray:
    """Mean per group ignoring NaN, in one `numpy.bincount` pass (spec section 6).

    `values` has one row per customer: shape (n,) gives (n_groups,), shape (n, k)
    (e.g. `Profile360.as_matrix()`) gives (n_groups, k). `group_index` (shape
    (n,), integers in [0, n_groups)) is the customer's segment, tier, rep or team.
    A group with no defined value is NaN.
    """
    data = as_float_array(values)
    if data.ndim not in (1, 2):
        raise ValueError(f"values must be 1-D or 2-D (customers x dimensions), got shape {data.shape}")
    groups = as_group_index(group_index, n_groups)
    if groups.shape != data.shape[:1]:
        raise ValueError(f"group_index must have shape {data.shape[:1]}, got {groups.shape}")
    ensure_valid(Check("values", data, np.isinf(data), "a finite number or NaN (undefined)"))
    table = data[:, None] if data.ndim == 1 else data
    columns = table.shape[1]
    # One flat bincount: cell (group g, column j) is bin g * columns + j.
    cells = (groups[:, None] * columns + np.arange(columns)).reshape(-1)
    defined = ~np.isnan(table).reshape(-1)
    bins = n_groups * columns
    sums = np.bincount(cells, weights=np.where(defined, table.reshape(-1), 0.0), minlength=bins)
    counts = np.bincount(cells, weights=defined, minlength=bins)
    means = ratio(sums, counts).reshape(n_groups, columns)
    return means[:, 0] if data.ndim == 1 else means
