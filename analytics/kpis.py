"""The KPI report behind the manager dashboard and `manage.py kpis`: spec sections 2, 3 and 5 over a period.

Pure orchestration: the bridge loads arrays (a fixed handful of queries whatever
the data size), the `analytics.funnel`, `analytics.satisfaction` and
`analytics.forecast` kernels compute every ratio, per rep in one
`numpy.bincount` pass, and this module packs the numbers into dataclasses.
Undefined ratios are None ("—" on a page, null in JSON), never 0 or 100.

What counts where (a period is half-open, [period_start, period_end)):

* won / lost, win rate, won amount: opportunities closed (closed_at) in the
  period, by their current stage; per rep by the opportunity's owner.
* weighted pipeline: the open opportunities at the period's end, or now when the
  period ends in the future (see `kpi_report`).
* E, R: the funnel kernels over the opportunities' stage history; O: orders
  fulfilled in the period, by the owner of the order's opportunity.
* CS ratios: the visits planned to start in the period, by the visiting rep.
  CS_plan counts only the visits due by now (a visit still ahead is not a miss).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import ngettext

from analytics import bridge
from analytics.bridge.beside import beside
from analytics.forecast import MIN_MONTHS, sales_forecast
from analytics.funnel import (
    NON_TERMINAL_STAGES,
    FunnelStage,
    communication_efficiency_by_group,
    effective_probability,
    follow_up_efficiency_by_group,
    order_efficiency_by_group,
    stage_conversion,
    weighted_pipeline_by_group,
    win_rate_by_group,
)
from analytics.numbers import nan_to_none, nan_to_none_list
from analytics.periods import add_months
from analytics.satisfaction import (
    SatisfactionRatios,
    ratios_of_sums,
)
from crm.models import RepProfile, Team

__all__ = [
    "KPI_KEYS",
    "MONTHS_SHOWN",
    "FORECAST_MONTHS",
    "KpiFigures",
    "KpiReport",
    "MonthlySeries",
    "RepKpis",
    "StageFunnel",
    "kpi_report",
    "rep_ids_for_team",
]

KPI_KEYS = (
    "won",
    "lost",
    "win_rate",
    "won_amount",
    "weighted_pipeline",
    "E",
    "R",
    "O",
    "cs_need",
    "cs_expectation",
    "cs_plan",
    "cs_policy",
)
MONTHS_SHOWN = 12
FORECAST_MONTHS = 3


@dataclass(frozen=True)
class KpiFigures:
    """One set of opportunities and visits over one period (spec sections 2 and 3); None where undefined.

    win_rate is a fraction in [0, 1]; E, R, O are counts per day; the CS ratios
    are percentages; amounts are in the opportunities' currency.
    """

    won: int
    lost: int
    win_rate: float | None
    won_amount: float
    weighted_pipeline: float
    E: float | None  # communication efficiency
    R: float | None  # follow-up efficiency
    O: float | None  # noqa: E741 - order efficiency, the spec's name
    cs_need: float | None
    cs_expectation: float | None
    cs_plan: float | None
    cs_policy: float | None

    def as_dict(self) -> dict:
        """The figures under their JSON keys (`KPI_KEYS`), numbers or None."""
        return {key: getattr(self, key) for key in KPI_KEYS}


@dataclass(frozen=True)
class RepKpis:
    rep_id: int
    name: str  # full name, or the username when the user has none
    username: str
    figures: KpiFigures
    previous: KpiFigures  # the period of the same length just before


@dataclass(frozen=True)
class StageFunnel:
    """One funnel stage over the period (stages an admin added are folded into the one before them)."""

    code: str
    name: str
    is_terminal: bool
    open_now: int | None  # open opportunities in the stage now; None for Won and Lost
    entered: int  # opportunities that entered the stage during the period
    conversion: float | None  # share of those that later entered a later stage; None for Won/Lost or none entered


@dataclass(frozen=True)
class MonthlySeries:
    """The `MONTHS_SHOWN` last complete local months (TIME_ZONE) up to the period's end, and the forecast.

    Oldest month first. A month is complete when it ended by the period's end and
    by now. Won amounts go by close month, CS ratios by the visits' planned month.
    The forecast (spec section 5) is fitted on the months since the first month any
    opportunity of these reps was closed, at most the months shown; with fewer than
    `MIN_MONTHS` of them it is not given and `forecast_reason` says why.
    """

    months: list[str]  # "YYYY-MM"
    won_amount: list[float]
    cs_need: list[float | None]
    cs_expectation: list[float | None]
    months_of_data: int
    forecast_months: list[str]
    forecast: list[float]  # empty when not available
    backtest_mse: float | None
    forecast_reason: str | None


@dataclass(frozen=True)
class KpiReport:
    period_start: datetime  # aware, half-open [period_start, period_end)
    period_end: datetime
    as_of: datetime  # "now" for the figures that depend on it (open pipeline, visits due)
    overall: KpiFigures
    previous: KpiFigures  # overall, the period of the same length just before
    reps: list[RepKpis]  # every rep asked for, also those with no data, sorted by name
    funnel: list[StageFunnel]
    monthly: MonthlySeries


def rep_ids_for_team(*, team_id: int | None) -> list[int]:
    """User ids of the reps (users with a rep profile) of a team, or of every rep when `team_id` is None.

    Raises Team.DoesNotExist for an unknown team.
    """
    profiles = RepProfile.objects.all()
    if team_id is not None:
        profiles = profiles.filter(team_id=team_id)
    ids = sorted(profiles.values_list("user_id", flat=True))
    if team_id is not None and not ids and not Team.objects.filter(pk=team_id).exists():
        raise Team.DoesNotExist(f"No team with id {team_id}.")
    return ids


def kpi_report(
    *,
    rep_ids: Sequence[int] | None,
    period_start: datetime,
    period_end: datetime,
    as_of: datetime | None = None,
) -> KpiReport:
    """The KPI figures of these reps (None: every rep, and overall every owner) over the period, in ~8 queries.

    `overall` covers all the opportunities, orders and visits of the reps asked for;
    with `rep_ids` None it covers everybody's (also those of users without a rep
    profile), and `reps` lists every user with a rep profile. `as_of` is "now"
    (default: the current time).

    Weighted pipeline: the opportunities open at the period's end, or at `as_of`
    when the period ends after it. At `as_of` that is the open opportunities as
    they stand. At an earlier moment it is rebuilt from the stage history: an
    opportunity opened before then and not closed by then, in the stage its last
    earlier StageChange entered (its current stage when it has no such change),
    weighted by its hand-set probability, else that stage's default; amounts are
    today's (opportunities keep no amount history). The previous period's figure
    is therefore the pipeline at `period_start`.
    """
    for name, moment in (("period_start", period_start), ("period_end", period_end)):
        if moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    if period_end <= period_start:
        raise ValueError(
            f"period_end ({period_end.isoformat()}) must be after period_start ({period_start.isoformat()})"
        )
    now = as_of or timezone.now()
    if now.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    previous_start = period_start - (period_end - period_start)
    month_edges = _month_edges(min(period_end, now))

    reps = _reps(rep_ids)
    owner_ids = None if rep_ids is None else [rep[0] for rep in reps]
    # Every pipeline figure looks only at the two periods, so the pipeline loads from the previous one's
    # start (`_opportunities_active_since`: all that a period from there can see); the monthly series
    # needs only the won amounts of its months, and the first close: from the pipeline when it holds them,
    # else one narrow load (`_won_deals`). The visit sums need nothing loaded here: on the load lane, if
    # the caller opened one, while the pipeline loads (`analytics.bridge.beside`).
    with beside(
        bridge.load_visit_term_sums,
        rep_ids=owner_ids,
        windows=_visit_windows(period_start, period_end, previous_start, month_edges, now),
        now=now.timestamp(),
    ) as visit_sums_load:
        pipeline = bridge.load_pipeline_arrays(owner_ids=owner_ids, since=previous_start, until=period_end)
        won_deals = _won_deals(pipeline, owner_ids, previous_start, month_edges)
        visit_sums = visit_sums_load.result()

    data = _Inputs(pipeline=pipeline, visit_sums=visit_sums, now=now.timestamp())
    rep_order = np.array([rep[0] for rep in reps], dtype=np.int64)
    groups = _Groups(
        opportunity=_group_of(pipeline.opportunities.owner_id, rep_order),
        order=_group_of(pipeline.orders.owner_id, rep_order),
        visit=_group_of(visit_sums.rep_id, rep_order),
        n=len(reps),
    )
    periods = {
        "current": (period_start.timestamp(), period_end.timestamp()),
        "previous": (previous_start.timestamp(), period_start.timestamp()),
    }
    satisfaction = {key: _satisfaction(data, window, groups=groups) for window, key in enumerate(periods)}
    overall = {
        key: _figures(data, *bounds, groups=_Groups.single(groups), cs=satisfaction[key][0])[0]
        for key, bounds in periods.items()
    }
    per_rep = {key: _figures(data, *bounds, groups=groups, cs=satisfaction[key][1]) for key, bounds in periods.items()}
    return KpiReport(
        period_start=period_start,
        period_end=period_end,
        as_of=now,
        overall=overall["current"],
        previous=overall["previous"],
        reps=[
            RepKpis(rep_id=pk, name=name, username=username, figures=current, previous=before)
            for (pk, name, username), current, before in zip(reps, per_rep["current"], per_rep["previous"], strict=True)
        ],
        funnel=_funnel(pipeline, *periods["current"]),
        monthly=_monthly(data, month_edges, won_deals),
    )


# --- inputs ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Inputs:
    pipeline: bridge.PipelineArrays
    visit_sums: bridge.VisitTermSums  # windows: the period, the previous period, then the months shown
    now: float  # epoch seconds


@dataclass(frozen=True, eq=False)
class _Groups:
    """Each opportunity's, order's and visit's group: a rep's position, or `n` for an owner not reported."""

    opportunity: np.ndarray
    order: np.ndarray
    visit: np.ndarray  # one element per rep of the visit sums
    n: int

    @classmethod
    def single(cls, groups: "_Groups") -> "_Groups":
        """Everything in one group: the overall figures."""
        return cls(
            opportunity=np.zeros_like(groups.opportunity),
            order=np.zeros_like(groups.order),
            visit=np.zeros_like(groups.visit),
            n=1,
        )


def _reps(rep_ids: Sequence[int] | None) -> list[tuple[int, str, str]]:
    """(id, name, username) of the reps asked for (every user with a rep profile for None), sorted by name."""
    users = get_user_model().objects.all()
    if rep_ids is None:
        users = users.filter(rep_profile__isnull=False)
    else:
        wanted = {int(pk) for pk in rep_ids}
        users = users.filter(pk__in=wanted)
    rows = list(users.values_list("pk", "first_name", "last_name", "username"))
    if rep_ids is not None and len(rows) != len(wanted):
        missing = sorted(wanted - {row[0] for row in rows})
        raise ValueError(f"rep_ids has unknown user ids: {missing}")
    reps = [(pk, f"{first} {last}".strip() or username, username) for pk, first, last, username in rows]
    return sorted(reps, key=lambda rep: (rep[1].casefold(), rep[2]))


def _group_of(owner_id: np.ndarray, rep_order: np.ndarray) -> np.ndarray:
    """Each owner's position in `rep_order`, or len(rep_order) (the group left out) when not there."""
    n = len(rep_order)
    if n == 0:
        return np.zeros(len(owner_id), dtype=np.int64)
    by_id = np.argsort(rep_order)
    at = np.minimum(np.searchsorted(rep_order, owner_id, sorter=by_id), n - 1)
    found = rep_order[by_id[at]] == owner_id
    return np.where(found, by_id[at], n).astype(np.int64)


# --- figures --------------------------------------------------------------------------------------------------------


def _pipeline_at(pipeline: bridge.PipelineArrays, moment: float, now: float) -> tuple[np.ndarray, np.ndarray]:
    """Each opportunity's stage row and whether it was open at `moment` (see `kpi_report`)."""
    opp, stages, changes = pipeline.opportunities, pipeline.stages, pipeline.changes
    if moment >= now:
        return opp.stage, pipeline.is_open
    earlier = changes.changed_at < moment
    latest = np.full(len(opp), -1, dtype=np.int64)
    np.maximum.at(latest, changes.opportunity[earlier], np.flatnonzero(earlier))
    known = latest >= 0
    stage = np.where(known, changes.stage[np.where(known, latest, 0)] if len(changes) else 0, opp.stage)
    is_open = (opp.opened_at < moment) & ~(opp.closed_at < moment) & ~stages.is_terminal[stage]
    return stage, is_open


def _visit_windows(
    period_start: datetime, period_end: datetime, previous_start: datetime, month_edges: list[datetime], now: datetime
) -> list[bridge.TermWindow]:
    """The windows of the CS ratios: the period and the previous one (CS_plan counts the visits due by now), then
    each month shown (complete, so every visit in it is due)."""
    periods = [(period_start, period_end), (previous_start, period_start)]
    windows = [
        bridge.TermWindow(start.timestamp(), end.timestamp(), max(start, min(end, now)).timestamp())
        for start, end in periods
    ]
    months = zip(month_edges[:-1], month_edges[1:], strict=True)
    return windows + [bridge.TermWindow(start.timestamp(), end.timestamp(), end.timestamp()) for start, end in months]


def _satisfaction(data: _Inputs, window: int, *, groups: _Groups) -> tuple[SatisfactionRatios, SatisfactionRatios]:
    """The CS ratios of one window: overall (every visit loaded, whoever's), then per rep.

    The overall sums are the sums of the reps' and of the owners' not reported (the
    terms are whole numbers: exact in any order).
    """
    sums = data.visit_sums.sums[window]
    per_group = np.zeros((groups.n + 1, sums.shape[1]))
    np.add.at(per_group, groups.visit, sums)
    total = sums.sum(axis=0, keepdims=True)
    return ratios_of_sums(bridge.as_ratio_terms(total)), ratios_of_sums(bridge.as_ratio_terms(per_group))


def _figures(data: _Inputs, start: float, end: float, *, groups: _Groups, cs: SatisfactionRatios) -> list[KpiFigures]:
    """The figures of every group over [start, end), each ratio from one kernel call (CS ratios given, per group)."""
    pipeline = data.pipeline
    opp, orders, stages = pipeline.opportunities, pipeline.orders, pipeline.stages
    n = groups.n + 1  # the last group holds the owners not reported, and is dropped
    period = {"period_start": start, "period_end": end}

    funnel_stage = pipeline.funnel_stage
    closed_in_period = (opp.closed_at >= start) & (opp.closed_at < end)
    won = closed_in_period & (funnel_stage == FunnelStage.WON)
    lost = closed_in_period & (funnel_stage == FunnelStage.LOST)
    won_count = np.bincount(groups.opportunity[won], minlength=n)
    lost_count = np.bincount(groups.opportunity[lost], minlength=n)
    won_amount = np.bincount(groups.opportunity[won], weights=opp.amount[won], minlength=n)
    win_rate = win_rate_by_group(
        stage=funnel_stage, closed_at=opp.closed_at, group_index=groups.opportunity, n_groups=n, **period
    )

    stage_then, open_then = _pipeline_at(pipeline, end, data.now)
    probability = effective_probability(opp.probability, opp.probability_manual, stages.default_probability[stage_then])
    pipeline_value = weighted_pipeline_by_group(
        amount=opp.amount, probability=probability, group_index=groups.opportunity, n_groups=n, is_open=open_then
    )

    by_opportunity = {"opportunity_group": groups.opportunity, "n_groups": n, **period}
    e = communication_efficiency_by_group(pipeline.stays, **by_opportunity)
    r = follow_up_efficiency_by_group(pipeline.stays, **by_opportunity)
    o = order_efficiency_by_group(
        ordered_at=orders.ordered_at, fulfilled_at=orders.fulfilled_at, group_index=groups.order, n_groups=n, **period
    )

    return [
        KpiFigures(
            won=int(won_count[g]),
            lost=int(lost_count[g]),
            win_rate=nan_to_none(win_rate[g]),
            won_amount=float(won_amount[g]),
            weighted_pipeline=float(pipeline_value[g]),
            E=nan_to_none(e[g]),
            R=nan_to_none(r[g]),
            O=nan_to_none(o[g]),
            cs_need=nan_to_none(cs.need[g]),
            cs_expectation=nan_to_none(cs.expectation[g]),
            cs_plan=nan_to_none(cs.plan[g]),
            cs_policy=nan_to_none(cs.policy[g]),
        )
        for g in range(groups.n)
    ]


# --- funnel ---------------------------------------------------------------------------------------------------------


def _funnel(pipeline: bridge.PipelineArrays, start: float, end: float) -> list[StageFunnel]:
    """One row per funnel stage, named after the first pipeline stage that maps to it."""
    stages, stays = pipeline.stages, pipeline.stays
    conversion = stage_conversion(stays, period_start=start, period_end=end)
    open_now = np.bincount(pipeline.funnel_stage[pipeline.is_open], minlength=len(FunnelStage))
    entering = (stays.entered_at >= start) & (stays.entered_at < end)
    entered = np.zeros((len(FunnelStage), stays.n_opportunities), dtype=np.bool_)
    entered[stays.stage[entering], stays.opportunity[entering]] = True
    rows = []
    for funnel_stage in FunnelStage:  # five stages, not records
        matching = np.flatnonzero(stages.funnel == funnel_stage)
        if not len(matching):
            continue
        row = int(matching[0])
        terminal = funnel_stage not in NON_TERMINAL_STAGES
        rows.append(
            StageFunnel(
                code=stages.code[row],
                name=stages.name[row],
                is_terminal=terminal,
                open_now=None if terminal else int(open_now[funnel_stage]),
                entered=int(entered[funnel_stage].sum()),
                conversion=None if terminal else nan_to_none(conversion[NON_TERMINAL_STAGES.index(funnel_stage)]),
            )
        )
    return rows


# --- monthly series and forecast -------------------------------------------------------------------------------------


def _month_start(moment: datetime) -> datetime:
    local = timezone.localtime(moment, timezone.get_default_timezone())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _month_edges(until: datetime) -> list[datetime]:
    """The starts of the last `MONTHS_SHOWN` complete local months before `until`, and the end of the last."""
    last_end = _month_start(until)
    return [add_months(last_end, k - MONTHS_SHOWN) for k in range(MONTHS_SHOWN + 1)]


def _month_index(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The month of each time (0 = oldest), or len(edges) - 1 (dropped) outside the months."""
    index = np.searchsorted(edges, times, side="right") - 1
    outside = np.isnan(times) | (index < 0) | (index >= len(edges) - 1)
    return np.where(outside, len(edges) - 1, index)


def _months_of_data(first_close: float, edges: np.ndarray) -> int:
    """How many of the months shown began with or after the month of the first close (see `MonthlySeries`)."""
    if not first_close < edges[-1]:  # NaN: nothing closed yet; or the first close came after the months shown
        return 0
    first_month = max(int(np.searchsorted(edges, first_close, side="right")) - 1, 0)  # 0 also when before them
    return MONTHS_SHOWN - first_month


@dataclass(frozen=True, eq=False)  # arrays
class _WonDeals:
    """The won deals for the monthly series, ids ascending (others than the months' too: `_month_index` drops
    them), and how many of the months shown the forecast fits (`_months_of_data`)."""

    closed_at: np.ndarray
    amount: np.ndarray
    months_of_data: int


def _won_deals(
    pipeline: bridge.PipelineArrays, owner_ids: list[int] | None, since: datetime, month_edges: list[datetime]
) -> _WonDeals:
    """The won deals of the months shown, from the pipeline loaded from `since` when that is exact (see
    `_won_deals_in_pipeline`), else through `bridge.load_won_sales` (one query)."""
    edges = _edge_seconds(month_edges)
    deals = _won_deals_in_pipeline(pipeline, since, edges)
    if deals is not None:
        return deals
    sales = bridge.load_won_sales(owner_ids=owner_ids, closed_from=month_edges[0], closed_until=month_edges[-1])
    return _WonDeals(
        closed_at=sales.closed_at, amount=sales.amount, months_of_data=_months_of_data(sales.first_close, edges)
    )


def _won_deals_in_pipeline(pipeline: bridge.PipelineArrays, since: datetime, edges: np.ndarray) -> _WonDeals | None:
    """The won deals from the pipeline when they are exactly those of `bridge.load_won_sales`, else None.

    The pipeline holds every deal of the owners closed since `since` (`_opportunities_active_since`), ids
    ascending: when the months start no earlier, it holds their won deals, whose amounts then add up in the
    same order, to the last bit. The first close ever may predate the pipeline; but when a loaded deal
    closed before the second month shown, the first close came in the first month or earlier, and every
    month shown counts (`_months_of_data`), whatever its exact time. Otherwise only the load can tell.
    """
    closed_at = pipeline.opportunities.closed_at
    if not (since.timestamp() <= edges[0] and (closed_at < edges[1]).any()):
        return None
    won = pipeline.funnel_stage == FunnelStage.WON
    return _WonDeals(closed_at=closed_at[won], amount=pipeline.opportunities.amount[won], months_of_data=MONTHS_SHOWN)


def _edge_seconds(month_edges: list[datetime]) -> np.ndarray:
    return np.array([edge.timestamp() for edge in month_edges])


def _monthly(data: _Inputs, month_edges: list[datetime], won: _WonDeals) -> MonthlySeries:
    edges = _edge_seconds(month_edges)
    n = MONTHS_SHOWN + 1  # the last slot collects what falls outside the months
    won_amount = np.bincount(_month_index(won.closed_at, edges), weights=won.amount, minlength=n)[:MONTHS_SHOWN]
    cs = ratios_of_sums(bridge.as_ratio_terms(data.visit_sums.sums[2:].sum(axis=1)))  # windows 2.. are the months
    months_of_data = won.months_of_data
    forecast = sales_forecast(won_amount[MONTHS_SHOWN - months_of_data :], horizon=FORECAST_MONTHS)
    reason = None
    if not forecast.available:
        reason = ngettext(
            "Only %(count)d complete month of sales; at least %(minimum)d are needed for a forecast.",
            "Only %(count)d complete months of sales; at least %(minimum)d are needed for a forecast.",
            months_of_data,
        ) % {"count": months_of_data, "minimum": MIN_MONTHS}
    return MonthlySeries(
        months=[f"{edge:%Y-%m}" for edge in month_edges[:-1]],
        won_amount=[float(amount) for amount in won_amount],
        cs_need=nan_to_none_list(cs.need[:MONTHS_SHOWN]),
        cs_expectation=nan_to_none_list(cs.expectation[:MONTHS_SHOWN]),
        months_of_data=months_of_data,
        forecast_months=[f"{add_months(month_edges[-1], k):%Y-%m}" for k in range(FORECAST_MONTHS)],
        forecast=[float(value) for value in forecast.forecast],
        backtest_mse=None if math.isnan(forecast.backtest_mse) else float(forecast.backtest_mse),
        forecast_reason=reason,
    )
