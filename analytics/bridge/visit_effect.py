"""Visit-effect inputs: the visits' counts, the baseline customers and the sales events, in four queries.

The arrays of `analytics.visit_effect_math`. An event is a forward stage move (a
StageChange from a stage to one of higher `order` that is not Lost: Won counts,
an opportunity's first StageChange with no from-stage does not) or an order
(`ordered_at`), on a customer through the opportunity. Times are epoch seconds.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import connection
from django.db.models import DateTimeField, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.sql import Query

from analytics.bridge.columns import _col, _table, load_columns, load_queryset_columns
from analytics.bridge.expressions import _Epoch, _epoch_seconds, epoch_column, int_column
from analytics.bridge.visit_days import TermWindow, load_stored_day_sums, on_covered_day, uncovered
from analytics.models import VISIT_EFFECT_COLUMNS
from crm.models import Customer
from sales.models import Opportunity, Order, Stage, StageChange
from visits.models import Visit


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class VisitEffectInputs:
    # Per rep, the counts of the visits on the stored days (`VisitDayTerms`), ids ascending.
    stored_rep: np.ndarray  # int64
    stored_visits: np.ndarray  # int64
    stored_hits: np.ndarray  # int64
    # The completed visits the stored days do not cover (all of them when nothing stored is usable).
    visit_customer: np.ndarray  # int64
    visit_rep: np.ndarray  # int64
    visit_time: np.ndarray  # check-out, epoch seconds
    baseline_customer: np.ndarray  # int64, ascending: the reps' active customers not visited in the period
    event_customer: np.ndarray  # int64, stage moves and orders in no particular order
    event_time: np.ndarray  # epoch seconds
    from_stored_days: bool


def load_completed_visits(condition: Q, *, rep_ids: list[int] | None, packed: bool) -> dict[str, np.ndarray]:
    """The completed visits matching `condition` (of these reps; None: everybody's): customer, rep and check-out."""
    visits = Visit.objects.filter(condition, status=Visit.Status.COMPLETED, checked_out_at__isnull=False)
    if rep_ids is not None:
        # An index-only scan of visit_rep_completed_out_idx (visits migration 0005).
        visits = visits.filter(rep_id__in=rep_ids)
    return load_queryset_columns(
        visits.order_by(),
        {
            "customer": (int_column("customer_id"), ">i8"),
            "rep": (int_column("rep_id"), ">i8"),
            "time": (epoch_column("checked_out_at"), ">f8"),
        },
        packed=packed,
    )


def load_visit_effect_inputs(
    *,
    rep_ids: Sequence[int] | None,
    period_start: datetime,
    period_end: datetime,
    visits_until: datetime,
    horizon_seconds: float,
    now: float,
) -> VisitEffectInputs:
    """The counts of the completed visits checked out in [period_start, visits_until) by `rep_ids` (None: every
    rep), the baseline customers, and the events that can fall in a visit's or a baseline window,
    [period_start, period_end + horizon], in four queries.

    The visits' counts come from the stored day sums where they hold (closed days not
    marked as changed, `analytics.bridge.visit_days`), and the visits elsewhere. `now`
    (epoch seconds) decides which days are closed.
    Baseline customers are the active customers owned by `rep_ids` (every active
    customer for None) with no completed visit, by anyone, checked out in the period.
    Events are loaded only for the customers the kernels look at: those of the visits
    read and the baseline ones.
    """
    reps = None if rep_ids is None else sorted({int(pk) for pk in rep_ids})
    packed = reps is not None  # a team's rows: bounded, so they travel packed in arrays
    window = TermWindow(period_start.timestamp(), visits_until.timestamp(), visits_until.timestamp())
    windows = [window] if window.start < window.end else []
    stored = load_stored_day_sums(rep_ids=reps, windows=windows, now=now, columns=VISIT_EFFECT_COLUMNS)
    visit = load_completed_visits(uncovered(stored, windows, "checked_out_at"), rep_ids=reps, packed=packed)
    if windows:  # the condition may bring visits of covered days too: they are in the stored counts
        kept = ~on_covered_day(stored, 0, visit["rep"], visit["time"])
        visit = {name: values[kept] for name, values in visit.items()}
    visited = Visit.objects.filter(
        status=Visit.Status.COMPLETED,
        checked_out_at__gte=period_start,
        checked_out_at__lt=period_end,
        customer=OuterRef("pk"),
    )
    customers = Customer.objects.filter(status=Customer.Status.ACTIVE)
    if reps is not None:
        customers = customers.filter(owner_id__in=reps)
    # One probe of visit_customer_status_out_idx per customer (a team's: ~17,000 at 100,000 customers).
    baseline = load_queryset_columns(
        customers.filter(~Exists(visited)).order_by("pk"), {"id": (int_column("pk"), ">i8")}, packed=packed
    )["id"]
    events = load_events(
        np.union1d(visit["customer"], baseline),
        packed=packed,
        since=period_start,
        # In UTC: aware arithmetic in a local zone would add wall-clock days, off by an hour across DST.
        until=period_end.astimezone(UTC) + timedelta(seconds=horizon_seconds),
    )
    rows = stored.rows
    return VisitEffectInputs(
        stored_rep=rows[:, 1],
        stored_visits=rows[:, 2],
        stored_hits=rows[:, 3],
        visit_customer=visit["customer"],
        visit_rep=visit["rep"],
        visit_time=visit["time"],
        baseline_customer=baseline,
        event_customer=events["customer"],
        event_time=events["time"],
        from_stored_days=stored.usable,
    )


def load_events(
    customer_ids: np.ndarray | None, *, packed: bool, since: datetime, until: datetime
) -> dict[str, np.ndarray]:
    """Forward stage moves and orders in [since, until] on these customers (None: every customer), in any order.

    One statement that leaves the planner both ways in: the UNION ALL of the two
    event tables has no WHERE of its own (a member with one stays a subquery that a
    join cannot reach into), so PostgreSQL flattens it and applies the window and the
    join to each table. A team over a month then reads the period's
    moves and orders by time (sales migration 0004's covering index on `changed_at`)
    and joins them to the customers' opportunities, looked up once for both tables
    (the ORM joined each table to them separately and read every stage change ever
    recorded); a few customers over a year read their opportunities' histories by
    opportunity instead. "Forward" is checked against the handful of forward stage
    pairs, not by joining sales_stage twice per change.
    """
    copied = connection.vendor == "postgresql"  # `load_columns`' binary COPY path
    at = _Epoch(RawSQL('ev."at"', (), output_field=DateTimeField()))
    # The conversions of `load_queryset_columns`: through COPY the timestamp travels as itself (int8 microseconds).
    at_sql, _ = Query(None).get_compiler(connection=connection).compile(at if copied else at.as_seconds())
    customer_id = f"o.{_col(Opportunity, 'customer')}"
    # The ids as one parameter, as `IdIn` sends them: an array unnested (PostgreSQL), a JSON list (SQLite).
    if customer_ids is None:
        which, which_params = f"{customer_id} IS NOT NULL", []
    elif copied:
        which = f"{customer_id} IN (SELECT unnest(%s::int8[]))"
        which_params = ["{" + ",".join(map(str, customer_ids.tolist())) + "}"]
    else:
        which = f"{customer_id} IN (SELECT value FROM json_each(%s))"  # noqa: S608 -- a quoted column name
        which_params = [json.dumps(customer_ids.tolist())]
    # An order is the row without a to-stage (a stage change always has one); a first change, from no
    # stage, is in no forward pair.
    sql = f"""
SELECT CAST({customer_id} AS {"int8" if copied else "INTEGER"}) AS "customer", {at_sql} AS "time"
FROM {_table(Opportunity)} o
JOIN (
    SELECT c.{_col(StageChange, "opportunity")} AS opportunity_id, c.{_col(StageChange, "changed_at")} AS "at",
           c.{_col(StageChange, "from_stage")} AS from_stage_id, c.{_col(StageChange, "to_stage")} AS to_stage_id
    FROM {_table(StageChange)} c
    UNION ALL
    SELECT d.{_col(Order, "opportunity")}, d.{_col(Order, "ordered_at")}, CAST(NULL AS bigint), CAST(NULL AS bigint)
    FROM {_table(Order)} d
) ev ON ev.opportunity_id = o.{_col(Opportunity, "id")}
WHERE {which} AND ev."at" >= %s AND ev."at" <= %s
  AND (
      ev.to_stage_id IS NULL
      OR (ev.from_stage_id, ev.to_stage_id) IN (
          SELECT f.{_col(Stage, "id")}, t.{_col(Stage, "id")}
          FROM {_table(Stage)} f CROSS JOIN {_table(Stage)} t
          WHERE t.{_col(Stage, "order")} > f.{_col(Stage, "order")} AND NOT t.{_col(Stage, "is_lost")}
      )
  )"""  # noqa: S608 -- names quoted by the connection, values bound parameters
    kinds = [("customer", ">i8"), ("time", ">i8" if copied else ">f8")]
    # As the ORM binds them: SQLite compares the stored text, which has no UTC offset.
    window = [connection.ops.adapt_datetimefield_value(moment) for moment in (since, until)]
    events = load_columns(sql, [*which_params, *window], kinds, packed=packed)
    if copied:
        events["time"] = _epoch_seconds(events["time"])
    return events
