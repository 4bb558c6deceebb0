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

from analytics.bridge.columns import jit_off_for_loads, load_queryset_columns
from analytics.bridge.expressions import IdIn, epoch_column, int_column
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


def load_visit_effect_inputs(
    *, rep_ids: Sequence[int] | None, period_start: datetime, period_end: datetime, horizon_seconds: float
) -> VisitEffectInputs:
    """Completed visits checked out in [period_start, period_end) by `rep_ids` (None: every rep), the baseline
    customers, and the events that can fall in a visit's or a baseline window, [period_start, period_end + horizon].

    Baseline customers are the active customers owned by `rep_ids` (every active
    customer for None) with no completed visit, by anyone, checked out in the period.
    Events are loaded only for the customers the kernels look at: those visited by
    these reps in the period and the baseline ones (for None: every customer).
    """
    reps = None if rep_ids is None else [int(pk) for pk in rep_ids]
    packed = reps is not None  # a team's rows: bounded, so they travel packed in arrays
    completed_in_period = Q(
        status=Visit.Status.COMPLETED, checked_out_at__gte=period_start, checked_out_at__lt=period_end
    )
    visits = Visit.objects.filter(completed_in_period)
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if reps is not None:
        # An index-only scan of visit_rep_completed_out_idx (visits migration 0005).
        visits = visits.filter(rep_id__in=reps)
        customers = customers.filter(owner_id__in=reps)
    with jit_off_for_loads():
        visit = load_queryset_columns(
            visits.order_by(),
            {
                "customer": (int_column("customer_id"), ">i8"),
                "rep": (int_column("rep_id"), ">i8"),
                "time": (epoch_column("checked_out_at"), ">f8"),
            },
            packed=packed,
        )
        visited = Visit.objects.filter(completed_in_period, customer=OuterRef("pk"))
        if reps is not None:
            # Those the reps visited are known: left out first, so that the anti-join (one probe of
            # visit_customer_status_out_idx each) only runs for the few customers left.
            customers = customers.exclude(IdIn("pk", np.unique(visit["customer"]).tolist()))
        baseline = load_queryset_columns(
            customers.filter(~Exists(visited)).order_by("pk"), {"id": (int_column("pk"), ">i8")}, packed=packed
        )["id"]
        events = _load_events(
            None if reps is None else np.union1d(visit["customer"], baseline),
            packed=packed,
            since=period_start,
            # In UTC: aware arithmetic in a local zone would add wall-clock days, off by an hour across DST.
            until=period_end.astimezone(UTC) + timedelta(seconds=horizon_seconds),
        )
    return VisitEffectInputs(
        visit_customer=visit["customer"],
        visit_rep=visit["rep"],
        visit_time=visit["time"],
        baseline_customer=baseline,
        event_customer=events["customer"],
        event_time=events["time"],
    )


def _load_events(
    customer_ids: np.ndarray | None, *, packed: bool, since: datetime, until: datetime
) -> dict[str, np.ndarray]:
    """Forward stage moves, then orders, in [since, until] on these customers (None: every customer)."""
    moves = StageChange.objects.filter(
        changed_at__gte=since,
        changed_at__lte=until,
        to_stage__order__gt=F("from_stage__order"),  # a NULL from-stage compares to nothing: left out
        to_stage__is_lost=False,
        opportunity__customer__isnull=False,
    )
    orders = Order.objects.filter(ordered_at__gte=since, ordered_at__lte=until, opportunity__customer__isnull=False)
    if customer_ids is not None:
        # The ids themselves, not the subqueries that found them: those would run again, once per event table.
        moves = moves.filter(IdIn("opportunity__customer_id", customer_ids.tolist()))
        orders = orders.filter(IdIn("opportunity__customer_id", customer_ids.tolist()))
    # One UNION ALL: the two tables' times under one name.
    return load_queryset_columns(
        [moves.order_by().annotate(at=F("changed_at")), orders.order_by().annotate(at=F("ordered_at"))],
        {"customer": (int_column("opportunity__customer_id"), ">i8"), "time": (epoch_column("at"), ">f8")},
        packed=packed,
    )
