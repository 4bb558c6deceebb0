"""Visit-effect inputs: completed visits, the baseline customers and the sales events, in four queries.

The arrays of `analytics.visit_effect_math`. An event is a forward stage move (a
StageChange from a stage to one of higher `order` that is not Lost: Won counts,
an opportunity's first StageChange with no from-stage does not) or an order
(`ordered_at`), on a customer through the opportunity. Times are epoch seconds.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db.models import Exists, F, OuterRef, Q

from analytics.bridge.columns import _EpochSeconds
from crm.models import Customer
from sales.models import Order, StageChange
from visits.models import Visit


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class VisitEffectInputs:
    visit_customer: np.ndarray  # int64, one element per completed visit in the period
    visit_rep: np.ndarray  # int64
    visit_time: np.ndarray  # check-out, epoch seconds
    baseline_customer: np.ndarray  # int64, ascending: the reps' active customers not visited in the period
    event_customer: np.ndarray  # int64, stage moves then orders
    event_time: np.ndarray  # epoch seconds


def _columns(rows: list[tuple], dtypes: Sequence[type]) -> list[np.ndarray]:
    n = len(rows)
    return [np.fromiter((row[i] for row in rows), dtype=dtype, count=n) for i, dtype in enumerate(dtypes)]


def load_visit_effect_inputs(
    *, rep_ids: Sequence[int] | None, period_start: datetime, period_end: datetime, horizon_seconds: float
) -> VisitEffectInputs:
    """Completed visits checked out in [period_start, period_end) by `rep_ids` (None: every rep), the baseline
    customers, and the events that can fall in a visit's or a baseline window, [period_start, period_end + horizon].

    Baseline customers are the active customers owned by `rep_ids` (every active
    customer for None) with no completed visit, by anyone, checked out in the period.
    Events are loaded only for customers that are visited by these reps in the
    period or owned by them.
    """
    reps = None if rep_ids is None else [int(pk) for pk in rep_ids]
    completed_in_period = Q(
        status=Visit.Status.COMPLETED, checked_out_at__gte=period_start, checked_out_at__lt=period_end
    )
    visits = Visit.objects.filter(completed_in_period)
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if reps is not None:
        visits = visits.filter(rep_id__in=reps)
        customers = customers.filter(owner_id__in=reps)
    visit_rows = list(visits.order_by().values_list("customer_id", "rep_id", _EpochSeconds("checked_out_at")))
    visited = Visit.objects.filter(completed_in_period, customer=OuterRef("pk"))
    baseline = np.fromiter(
        customers.filter(~Exists(visited)).order_by("pk").values_list("pk", flat=True), dtype=np.int64
    )

    # In UTC: aware arithmetic in a local zone would add wall-clock days, off by an hour across DST.
    events_until = period_end.astimezone(UTC) + timedelta(seconds=horizon_seconds)
    moves = StageChange.objects.filter(
        changed_at__gte=period_start,
        changed_at__lte=events_until,
        to_stage__order__gt=F("from_stage__order"),  # a NULL from-stage compares to nothing: left out
        to_stage__is_lost=False,
        opportunity__customer__isnull=False,
    )
    orders = Order.objects.filter(
        ordered_at__gte=period_start, ordered_at__lte=events_until, opportunity__customer__isnull=False
    )
    if reps is not None:
        # The customers whose events matter: visited by these reps in the period, or owned by them (baseline).
        mine = Q(opportunity__customer__owner_id__in=reps) | Q(
            opportunity__customer__in=visits.order_by().values("customer_id")
        )
        moves, orders = moves.filter(mine), orders.filter(mine)
    move_rows = list(moves.order_by().values_list("opportunity__customer_id", _EpochSeconds("changed_at")))
    order_rows = list(orders.order_by().values_list("opportunity__customer_id", _EpochSeconds("ordered_at")))
    visit_customer, visit_rep, visit_time = _columns(visit_rows, (np.int64, np.int64, np.float64))
    event_customer, event_time = _columns(move_rows + order_rows, (np.int64, np.float64))
    return VisitEffectInputs(
        visit_customer=visit_customer,
        visit_rep=visit_rep,
        visit_time=visit_time,
        baseline_customer=baseline,
        event_customer=event_customer,
        event_time=event_time,
    )
