"""Spec section 6 (Customer 360): per-customer aggregates over the last 365 days, in three queries."""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import numpy as np
from django.db.models import Avg, Count, F, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.bridge.expressions import SECONDS_PER_DAY, _EpochSeconds
from crm.models import Customer
from sales.models import Order
from visits.models import Visit

PROFILE_WINDOW_DAYS = 365
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Profile360Inputs:
    """Per-customer aggregates over the window, aligned, one element per active customer (ids ascending).

    The arguments of `analytics.profile360.profile360`, plus `customer_id` and `scored`
    (False where the customer has no score yet: its `t1` is then 0, and the value
    dimension is undefined). `as_of` is the end of the window they were read for.
    """

    as_of: datetime
    customer_id: np.ndarray  # int64, ascending
    needs_raised: np.ndarray
    completed_visits: np.ndarray
    orders: np.ndarray
    months_observed: np.ndarray
    t1: np.ndarray
    scored: np.ndarray  # bool
    planned_visits: np.ndarray
    planned_completed: np.ndarray
    mean_actual_satisfaction: np.ndarray  # NaN when no completed visit was scored

    def __len__(self) -> int:
        return len(self.customer_id)

    def kernel_arguments(self) -> dict[str, np.ndarray]:
        """Keyword arguments of `profile360.profile360`."""
        skip = {"as_of", "customer_id", "scored"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    def replacing(self, fresh: "Profile360Inputs") -> "Profile360Inputs":
        """These rows with `fresh`'s customers replaced (or added), still sorted by id."""
        keep = ~np.isin(self.customer_id, fresh.customer_id)
        columns = {
            f.name: np.concatenate([getattr(self, f.name)[keep], getattr(fresh, f.name)])
            for f in fields(self)
            if f.name != "as_of"
        }
        order = np.argsort(columns["customer_id"], kind="stable")
        return Profile360Inputs(as_of=self.as_of, **{name: column[order] for name, column in columns.items()})


def _cancelled_on_or_after_planned_day() -> Q:
    """Counts as planned (CS_plan's rule): not cancelled, or cancelled on or after the planned local day.

    Written without NOT: `NOT (NULL < day)` is NULL in SQL and would drop the visits never cancelled.
    """
    return Q(cancelled_at__isnull=True) | Q(cancelled_day__gte=F("planned_day"))


def load_profile360_inputs(*, as_of: datetime, customer_ids: Sequence[int] | None = None) -> Profile360Inputs:
    """Every active customer's section 6 aggregates over the 365 days up to `as_of`, in three queries.

    With `customer_ids`, only these customers (those of them that are active): the
    customer page refreshes its own row this way. Window (as_of - 365 d, as_of].
    Completed visits are those checked out in the window (needs raised and the mean
    actual satisfaction over them); planned visits are those whose planned start
    lies in the window, leaving out those cancelled before their planned local day
    (TIME_ZONE), as CS_plan does; orders are those ordered in the window. `t1` is the
    stored T1 of the latest scoring run. Months observed run from the later of the
    window start and the customer's first sign of life (its creation, first visit or
    order in the window, whichever is earliest: imported customers are created after
    their history), and are at least one.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    tz = timezone.get_default_timezone()
    start = as_of - timedelta(days=PROFILE_WINDOW_DAYS)
    active = Customer.Status.ACTIVE
    customers = Customer.objects.filter(status=active)
    visits = Visit.objects.filter(customer__status=active)
    orders_in_window = Order.objects.filter(
        opportunity__customer__status=active, ordered_at__gt=start, ordered_at__lte=as_of
    )
    if customer_ids is not None:
        ids_wanted = [int(pk) for pk in customer_ids]
        customers = customers.filter(pk__in=ids_wanted)
        visits = visits.filter(customer_id__in=ids_wanted)
        orders_in_window = orders_in_window.filter(opportunity__customer_id__in=ids_wanted)

    customer_rows = np.array(
        customers.order_by("pk").values_list("pk", _EpochSeconds("created_at"), "score__t1"), dtype=np.float64
    ).reshape(-1, 3)  # None (not scored) -> NaN
    n = len(customer_rows)
    ids = customer_rows[:, 0].astype(np.int64)
    first_seen = customer_rows[:, 1].copy()
    t1 = customer_rows[:, 2]

    completed_in_window = Q(status=Visit.Status.COMPLETED, checked_out_at__gt=start, checked_out_at__lte=as_of)
    planned_in_window = Q(planned_start__gt=start, planned_start__lte=as_of) & _cancelled_on_or_after_planned_day()
    visit_rows = np.array(
        visits.filter(
            Q(checked_out_at__gt=start, checked_out_at__lte=as_of)
            | Q(planned_start__gt=start, planned_start__lte=as_of)
        )
        .annotate(planned_day=TruncDate("planned_start", tzinfo=tz), cancelled_day=TruncDate("cancelled_at", tzinfo=tz))
        .values("customer")
        .annotate(
            completed=Count("pk", filter=completed_in_window),
            needs=Sum("needs_raised", filter=completed_in_window, default=0),
            satisfaction=Avg("actual_satisfaction", filter=completed_in_window & Q(actual_satisfaction__isnull=False)),
            planned=Count("pk", filter=planned_in_window),
            planned_completed=Count("pk", filter=planned_in_window & Q(status=Visit.Status.COMPLETED)),
            first=_EpochSeconds(Min("planned_start")),
        )
        .values_list("customer", "completed", "needs", "satisfaction", "planned", "planned_completed", "first"),
        dtype=np.float64,
    ).reshape(-1, 7)
    order_rows = np.array(
        orders_in_window.values("opportunity__customer")
        .annotate(count=Count("pk"), first=_EpochSeconds(Min("ordered_at")))
        .values_list("opportunity__customer", "count", "first"),
        dtype=np.float64,
    ).reshape(-1, 3)

    completed, needs, planned, planned_completed, orders = (np.zeros(n) for _ in range(5))
    satisfaction = np.full(n, np.nan)
    visit_rows = visit_rows[_found(ids, visit_rows[:, 0])]
    at = np.searchsorted(ids, visit_rows[:, 0].astype(np.int64))
    completed[at], needs[at], satisfaction[at], planned[at], planned_completed[at] = visit_rows[:, 1:6].T
    first_seen[at] = np.fmin(first_seen[at], visit_rows[:, 6])
    order_rows = order_rows[_found(ids, order_rows[:, 0])]
    at = np.searchsorted(ids, order_rows[:, 0].astype(np.int64))
    orders[at] = order_rows[:, 1]
    first_seen[at] = np.fmin(first_seen[at], order_rows[:, 2])
    observed_from = np.maximum(first_seen, start.timestamp())
    months = np.maximum((as_of.timestamp() - observed_from) / (SECONDS_PER_DAY * DAYS_PER_MONTH), 1.0)
    scored = ~np.isnan(t1)
    return Profile360Inputs(
        as_of=as_of,
        customer_id=ids,
        needs_raised=needs,
        completed_visits=completed,
        orders=orders,
        months_observed=months,
        t1=np.where(scored, t1, 0.0),
        scored=scored,
        planned_visits=planned,
        planned_completed=planned_completed,
        mean_actual_satisfaction=satisfaction,
    )


def _found(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Which of `wanted` are in the sorted `ids` (a customer activated between two queries is not)."""
    return np.isin(wanted.astype(np.int64), ids)
