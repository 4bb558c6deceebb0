"""The visit-effect figure: how often a completed visit is followed by a sales event, against a baseline.

A completed visit "has an effect" when within 14 days after its check-out there is,
on the same customer, a forward stage move (to a later stage, Won included, Lost
never) or an order. The share of such visits is compared with a baseline: the
customers of the same reps that were not visited in the period, over the period
cut into whole 14-day windows, and the share of (customer, window) pairs with an
event. The lift is the difference. Only what has had its 14 days by `as_of` counts: a
visit checked out less than 14 days ago, or a window not over yet, could still get
its event, and counting it as "none" would bias a current period down. Definitions in `analytics.visit_effect_math`,
loading in `analytics.bridge.visit_effect`; the callers check the user's scope
(they pass the rep ids the user may see). The visits' counts of whole closed days
come from the stored day sums (`analytics.visit_days`), the same numbers as from the
visits themselves (tests/analytics/test_visit_effect_days.py).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import numpy as np
from django.utils import timezone

from analytics.bridge.visit_effect import load_visit_effect_inputs
from analytics.numbers import nan_to_none, ratio
from analytics.visit_effect_math import HORIZON_SECONDS, baseline_pairs, effect_counts_by_group, visits_with_effect

HORIZON_DAYS = 14


class RepVisitEffect(NamedTuple):
    rep_id: int
    share: float | None  # None when the rep completed no visit in the period
    n: int


@dataclass(frozen=True)
class VisitEffectReport:
    """The figures of one period; shares are fractions in [0, 1], None where undefined."""

    period_start: datetime
    period_end: datetime
    share: float | None
    n_visits: int
    n_effective: int
    baseline_share: float | None
    baseline_pairs: int
    baseline_pairs_with_event: int
    lift: float | None  # share - baseline_share; None when either is undefined
    per_rep: list[RepVisitEffect]
    horizon_days: int = HORIZON_DAYS


def _check_period(period_start: datetime, period_end: datetime) -> None:
    for name, moment in (("period_start", period_start), ("period_end", period_end)):
        if not isinstance(moment, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if period_end <= period_start:
        raise ValueError(
            f"period_end ({period_end.isoformat()}) must be after period_start ({period_start.isoformat()})"
        )


def visit_effect_report(
    *,
    rep_ids: Sequence[int] | None,
    period_start: datetime,
    period_end: datetime,
    as_of: datetime | None = None,
) -> VisitEffectReport:
    """Visit effect of the completed visits checked out in [period_start, period_end) by `rep_ids`.

    `rep_ids` None means every rep; `per_rep` then lists the reps with a completed
    visit in the period, otherwise every requested rep (in ascending id order),
    with share None for those without one. Visits checked out less than 14 days
    before `as_of` (default now) and baseline windows not over by then are left out.
    Four queries.
    """
    _check_period(period_start, period_end)
    as_of = as_of or timezone.now()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    # Visits whose 14 days are over by as_of (all of them for a past period).
    visits_until = max(period_start, min(period_end, as_of - timedelta(seconds=HORIZON_SECONDS)))
    inputs = load_visit_effect_inputs(
        rep_ids=rep_ids,
        period_start=period_start,
        period_end=period_end,
        visits_until=visits_until,
        horizon_seconds=HORIZON_SECONDS,
        now=as_of.timestamp(),
    )
    effective = visits_with_effect(
        inputs.visit_customer, inputs.visit_time, inputs.event_customer, inputs.event_time, HORIZON_SECONDS
    )
    # The stored days' counts (a day with planned visits but none checked out adds 0 visits: left out).
    stored = inputs.stored_visits > 0
    stored_rep, stored_visits, stored_hits = (
        inputs.stored_rep[stored],
        inputs.stored_visits[stored],
        inputs.stored_hits[stored],
    )
    if rep_ids is None:
        reps = np.union1d(stored_rep, inputs.visit_rep)
    else:
        reps = np.unique(np.asarray(list(rep_ids), dtype=np.int64))
    # A visit of a rep outside `reps` cannot happen (the loads filter them); searchsorted maps rep -> group.
    rep_hits, rep_n = effect_counts_by_group(effective, np.searchsorted(reps, inputs.visit_rep), len(reps))
    stored_group = np.searchsorted(reps, stored_rep)
    rep_n = rep_n + np.bincount(stored_group, weights=stored_visits, minlength=len(reps)).astype(np.int64)
    rep_hits = rep_hits + np.bincount(stored_group, weights=stored_hits, minlength=len(reps))
    rep_share = ratio(rep_hits, rep_n)
    n_visits = int(rep_n.sum())
    n_effective = int(rep_hits.sum())
    share = n_effective / n_visits if n_visits else None

    with_event, pairs = baseline_pairs(
        inputs.baseline_customer,
        inputs.event_customer,
        inputs.event_time,
        period_start=period_start.timestamp(),
        period_end=max(period_start, min(period_end, as_of)).timestamp(),  # whole windows over by as_of
        window=HORIZON_SECONDS,
    )
    baseline = with_event / pairs if pairs else None
    lift = share - baseline if share is not None and baseline is not None else None

    per_rep = [
        RepVisitEffect(rep_id=int(rep), share=nan_to_none(s), n=int(n))
        for rep, s, n in zip(reps.tolist(), rep_share.tolist(), rep_n.tolist(), strict=True)
    ]
    return VisitEffectReport(
        period_start=period_start,
        period_end=period_end,
        share=share,
        n_visits=n_visits,
        n_effective=n_effective,
        baseline_share=baseline,
        baseline_pairs=pairs,
        baseline_pairs_with_event=with_event,
        lift=lift,
        per_rep=per_rep,
    )
