"""Spec section 2 inputs: visits as the arrays of the `analytics.satisfaction` kernels, in one query."""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta

import numpy as np
from django.db.models import Q, QuerySet
from django.utils import timezone

from analytics.bridge.columns import load_queryset_columns
from analytics.bridge.expressions import epoch_column, flag_column, float_column, int_column
from visits.models import Visit

_NOT_KERNEL_ARGUMENTS = frozenset({"customer_id", "rep_id"})


@dataclass(frozen=True)
class VisitRatioInputs:
    """One element per visit: the arguments of the `analytics.satisfaction` kernels, with whose visit it is.

    Times are epoch seconds, NaN where missing; scores NaN where not given.
    `planned_day_start` is the epoch second at which the planned start's local day
    (TIME_ZONE) begins.
    """

    customer_id: np.ndarray  # int64
    rep_id: np.ndarray  # int64, the visiting rep (the visit's owner)
    completed: np.ndarray  # bool
    needs_raised: np.ndarray
    needs_satisfied: np.ndarray
    actual_satisfaction: np.ndarray
    expected_satisfaction: np.ndarray
    planned_start: np.ndarray
    planned_day_start: np.ndarray
    cancelled_at: np.ndarray
    checked_in_at: np.ndarray
    checked_out_at: np.ndarray
    report_filed_at: np.ndarray

    def __len__(self) -> int:
        return len(self.customer_id)

    def kernel_arguments(self) -> dict[str, np.ndarray]:
        """Keyword arguments of `satisfaction.satisfaction_ratios` (everything but the customer and rep)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_KERNEL_ARGUMENTS}


def local_day_starts(epochs: np.ndarray, tz) -> np.ndarray:
    """The epoch second at which each instant's local day in `tz` begins (DST-aware).

    One zone lookup per calendar day in the range, not per instant: the day starts
    are sorted, so each instant finds its own with a binary search.
    """
    epochs = np.asarray(epochs, dtype=np.float64)
    if epochs.size == 0:
        return epochs.copy()
    first = datetime.fromtimestamp(float(epochs.min()), tz).date()
    last = datetime.fromtimestamp(float(epochs.max()), tz).date()
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    # A midnight skipped by a DST jump resolves (fold=0) to the jump: the day's real start.
    starts = np.array([datetime.combine(day, time.min, tzinfo=tz).timestamp() for day in days])
    return starts[np.searchsorted(starts, epochs, side="right") - 1]


_VISIT_COLUMNS = {
    "customer_id": (int_column("customer_id"), ">i8"),
    "rep_id": (int_column("rep_id"), ">i8"),
    "completed": (flag_column(Q(status=Visit.Status.COMPLETED)), ">i8"),
    "needs_raised": (float_column("needs_raised"), ">f8"),
    "needs_satisfied": (float_column("needs_satisfied"), ">f8"),
    "actual_satisfaction": (float_column("actual_satisfaction"), ">f8"),
    "expected_satisfaction": (float_column("expected_satisfaction"), ">f8"),
    "planned_start": (epoch_column("planned_start"), ">f8"),
    "cancelled_at": (epoch_column("cancelled_at"), ">f8"),
    "checked_in_at": (epoch_column("checked_in_at"), ">f8"),
    "checked_out_at": (epoch_column("checked_out_at"), ">f8"),
    "report_filed_at": (epoch_column("report_filed_at"), ">f8"),
}


def visit_ratio_arrays(visits: QuerySet, *, bulk: bool, packed: bool = False) -> VisitRatioInputs:
    columns = load_queryset_columns(visits, _VISIT_COLUMNS, bulk=bulk, packed=packed)
    completed = columns.pop("completed").astype(np.bool_)
    planned_start = columns["planned_start"]
    return VisitRatioInputs(
        completed=completed,
        planned_day_start=local_day_starts(planned_start, timezone.get_default_timezone()),
        **columns,
    )


def load_visit_ratio_inputs(*, customer_ids: Sequence[int]) -> VisitRatioInputs:
    """All visits of these customers (any rep, any status), as kernel arrays, in one query."""
    visits = Visit.objects.filter(customer_id__in=[int(pk) for pk in customer_ids])
    # A customer page's few visits: a plain read, not a COPY.
    return visit_ratio_arrays(visits.order_by("customer_id", "planned_start", "pk"), bulk=False)


def load_rep_visit_inputs(
    *, rep_ids: Sequence[int] | None, planned_from: datetime, planned_until: datetime
) -> VisitRatioInputs:
    """The visits of these reps (None: everybody's) planned to start in [planned_from, planned_until), in one query.

    Any status: CS_plan needs the cancelled and missed ones too. Ordered by rep,
    planned start; `rep_id` says whose visit each is, for per-rep ratios.
    """
    for name, moment in (("planned_from", planned_from), ("planned_until", planned_until)):
        if moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    window = Q(planned_start__gte=planned_from, planned_start__lt=planned_until)
    visits = Visit.objects.filter(window)
    if rep_ids is not None:
        visits = visits.filter(rep_id__in=[int(pk) for pk in rep_ids])
    # A team's visits (bounded) travel packed in arrays; everybody's as plain COPY rows.
    return visit_ratio_arrays(visits.order_by("rep_id", "planned_start", "pk"), bulk=True, packed=rep_ids is not None)
