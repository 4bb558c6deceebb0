"""Sales funnel efficiency, win rate, stage conversion and weighted pipeline: spec section 3.

Array API (no Django import; the bridge builds the arrays):

* Stages are integer codes, `FunnelStage` (map `sales.Stage.code` to them):
  DISCOVERY 0, COMMUNICATION 1, FOLLOW_UP 2, WON 3, LOST 4. "Later" means a higher
  code up to WON; moving to LOST is never forward.
* A *stay* is one contiguous time an opportunity spent in one stage, derived from
  its StageChange rows: `StageStays` holds one element per stay (which
  opportunity, which stage, when it was entered and left, and which stage came
  next, `STILL_IN_STAGE` = -1 while it has not been left). Build it with
  `stage_stays`, which validates the arrays.
* Times are float epoch seconds (NaN where missing); durations are reported in
  days (86,400 s). A period is half-open, ``period_start <= t < period_end``;
  either bound may be infinite.
* Per-opportunity and per-order arrays are plain keyword arguments.

Each ratio has a whole-set form returning a float and a `*_by_group` form that
computes it for every group (rep, team...) in one `numpy.bincount` pass. An
undefined ratio (denominator 0) is NaN, never 0: see spec section 2 and
`analytics.numbers.nan_to_none`. Win rate, conversion and probabilities are
fractions in [0, 1]; E, R and O are counts per day.
"""

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from analytics.numbers import (
    Check,
    as_bool_array,
    as_float_array,
    as_group_index,
    check_finite,
    check_fraction,
    check_nonneg,
    check_optional_finite,
    ensure_valid,
    group_sum,
    ratio,
)

__all__ = [
    "NON_TERMINAL_STAGES",
    "SECONDS_PER_DAY",
    "STILL_IN_STAGE",
    "FunnelStage",
    "StageStays",
    "communication_efficiency",
    "communication_efficiency_by_group",
    "effective_probability",
    "follow_up_efficiency",
    "follow_up_efficiency_by_group",
    "order_efficiency",
    "order_efficiency_by_group",
    "stage_conversion",
    "stage_conversion_by_group",
    "stage_stays",
    "weighted_pipeline",
    "weighted_pipeline_by_group",
    "win_rate",
    "win_rate_by_group",
]

SECONDS_PER_DAY = 86_400.0
STILL_IN_STAGE = -1


class FunnelStage(IntEnum):
    DISCOVERY = 0
    COMMUNICATION = 1
    FOLLOW_UP = 2
    WON = 3
    LOST = 4


NON_TERMINAL_STAGES = (FunnelStage.DISCOVERY, FunnelStage.COMMUNICATION, FunnelStage.FOLLOW_UP)
_N_STAGES = len(FunnelStage)


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class StageStays:
    """One element per stay of an opportunity in a stage (1-D arrays of equal length)."""

    opportunity: np.ndarray  # int64 in [0, n_opportunities)
    stage: np.ndarray  # int64 FunnelStage code
    entered_at: np.ndarray  # float64 epoch seconds
    left_at: np.ndarray  # float64 epoch seconds, NaN while still in the stage
    next_stage: np.ndarray  # int64 FunnelStage code entered on leaving, STILL_IN_STAGE while still there
    n_opportunities: int

    def __len__(self) -> int:
        return int(self.stage.shape[0])


def _integers(values: npt.ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.size == 0:
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        ensure_valid(Check(name, array, ~np.isfinite(array) | (array != np.floor(array)), "an integer"))
    elif array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def stage_stays(
    *,
    opportunity: npt.ArrayLike,
    stage: npt.ArrayLike,
    entered_at: npt.ArrayLike,
    left_at: npt.ArrayLike,
    next_stage: npt.ArrayLike,
    n_opportunities: int,
) -> StageStays:
    """Validate and pack the stays (see the module docstring); ValueError names the first bad element."""
    opp = as_group_index(opportunity, n_opportunities, "opportunity")
    code = as_group_index(stage, _N_STAGES, "stage")
    entered = as_float_array(entered_at)
    left = as_float_array(left_at)
    following = _integers(next_stage, "next_stage")
    arrays = np.broadcast_arrays(opp, code, entered, left, following)
    if arrays[0].ndim != 1:
        raise ValueError(f"stays must be 1-D arrays, got shape {arrays[0].shape}")
    opp, code, entered, left, following = (np.ascontiguousarray(a) for a in arrays)
    ensure_valid(
        check_finite("entered_at", entered),
        check_optional_finite("left_at", left),
        Check(
            "next_stage",
            following,
            (following < STILL_IN_STAGE) | (following >= _N_STAGES),
            f"a stage code in [0, {_N_STAGES}) or {STILL_IN_STAGE} (still in the stage)",
        ),
        Check("next_stage", following, following == code, "a different stage than `stage`"),
        Check("left_at", left, np.isnan(left) != (following == STILL_IN_STAGE), "NaN exactly when next_stage is -1"),
        Check("left_at", left, left < entered, ">= entered_at"),
    )
    return StageStays(
        opportunity=opp,
        stage=code,
        entered_at=entered,
        left_at=left,
        next_stage=following,
        n_opportunities=int(n_opportunities),
    )


def _period(period_start: float, period_end: float) -> tuple[float, float]:
    start, end = float(period_start), float(period_end)
    if np.isnan(start) or np.isnan(end) or start > end:
        raise ValueError(f"period [{start}, {end}) must have bounds that are not NaN with start <= end")
    return start, end


def _in_period(times: np.ndarray, start: float, end: float) -> np.ndarray:
    return (times >= start) & (times < end)  # NaN (missing) is never in a period


def _is_later(next_stage: np.ndarray, stage: int | np.ndarray) -> np.ndarray:
    return (next_stage > stage) & (next_stage <= FunnelStage.WON)


def _opportunity_groups(stays: StageStays, opportunity_group: npt.ArrayLike | None, n_groups: int) -> np.ndarray:
    if opportunity_group is None:
        return np.zeros(stays.n_opportunities, dtype=np.int64)
    groups = as_group_index(opportunity_group, n_groups, "opportunity_group")
    if groups.shape != (stays.n_opportunities,):
        raise ValueError(f"opportunity_group must have shape ({stays.n_opportunities},), got {groups.shape}")
    return groups


def _stage_efficiency(
    stays: StageStays,
    *,
    stage: FunnelStage,
    won_only: bool,
    period_start: float,
    period_end: float,
    opportunity_group: npt.ArrayLike | None,
    n_groups: int,
) -> np.ndarray:
    """Counted opportunities per day spent in `stage`, per group.

    Counted: opportunities with a stay in `stage` left during the period forward
    (or, `won_only`, to WON). Days: every stay of a counted opportunity in `stage`
    that ended before the period's end (the stays it took to get through).
    """
    start, end = _period(period_start, period_end)
    groups = _opportunity_groups(stays, opportunity_group, n_groups)
    in_stage = stays.stage == stage
    exits = (stays.next_stage == FunnelStage.WON) if won_only else _is_later(stays.next_stage, stage)
    leaving = in_stage & exits & _in_period(stays.left_at, start, end)
    counted = np.zeros(stays.n_opportunities, dtype=bool)
    counted[stays.opportunity[leaving]] = True
    spent = in_stage & (stays.left_at < end) & counted[stays.opportunity]
    days = np.where(spent, (stays.left_at - stays.entered_at) / SECONDS_PER_DAY, 0.0)
    days_per_opportunity = np.bincount(stays.opportunity, weights=days, minlength=stays.n_opportunities)
    return ratio(group_sum(counted, groups, n_groups), group_sum(days_per_opportunity, groups, n_groups))


def communication_efficiency(stays: StageStays, *, period_start: float, period_end: float) -> float:
    """E = C / T (spec section 3).

    C: opportunities that left Communication forward during the period; T: total
    days those opportunities spent in Communication (all their Communication stays
    ended by the period's end). NaN when T is 0.
    """
    return float(
        _stage_efficiency(
            stays,
            stage=FunnelStage.COMMUNICATION,
            won_only=False,
            period_start=period_start,
            period_end=period_end,
            opportunity_group=None,
            n_groups=1,
        )[0]
    )


def communication_efficiency_by_group(
    stays: StageStays,
    *,
    period_start: float,
    period_end: float,
    opportunity_group: npt.ArrayLike,
    n_groups: int,
) -> np.ndarray:
    """E per group; `opportunity_group` gives each opportunity's group (shape (n_opportunities,))."""
    return _stage_efficiency(
        stays,
        stage=FunnelStage.COMMUNICATION,
        won_only=False,
        period_start=period_start,
        period_end=period_end,
        opportunity_group=opportunity_group,
        n_groups=n_groups,
    )


def follow_up_efficiency(stays: StageStays, *, period_start: float, period_end: float) -> float:
    """R = S / T (spec section 3).

    S: opportunities won during the period out of Follow-up; T: total days those
    opportunities spent in Follow-up. NaN when T is 0.
    """
    return float(
        _stage_efficiency(
            stays,
            stage=FunnelStage.FOLLOW_UP,
            won_only=True,
            period_start=period_start,
            period_end=period_end,
            opportunity_group=None,
            n_groups=1,
        )[0]
    )


def follow_up_efficiency_by_group(
    stays: StageStays,
    *,
    period_start: float,
    period_end: float,
    opportunity_group: npt.ArrayLike,
    n_groups: int,
) -> np.ndarray:
    """R per group; `opportunity_group` gives each opportunity's group (shape (n_opportunities,))."""
    return _stage_efficiency(
        stays,
        stage=FunnelStage.FOLLOW_UP,
        won_only=True,
        period_start=period_start,
        period_end=period_end,
        opportunity_group=opportunity_group,
        n_groups=n_groups,
    )


def order_efficiency_by_group(
    *,
    ordered_at: npt.ArrayLike,
    fulfilled_at: npt.ArrayLike,
    period_start: float,
    period_end: float,
    group_index: npt.ArrayLike,
    n_groups: int,
) -> np.ndarray:
    """O = N / T per group (spec section 3), one element per order.

    N: orders fulfilled during the period; T: total days from creation
    (`ordered_at`) to fulfilment of those orders. `fulfilled_at` is NaN while
    not fulfilled. NaN where T is 0.
    """
    start, end = _period(period_start, period_end)
    created = as_float_array(ordered_at)
    fulfilled = as_float_array(fulfilled_at)
    groups = as_group_index(group_index, n_groups)
    ensure_valid(
        check_finite("ordered_at", created),
        check_optional_finite("fulfilled_at", fulfilled),
        Check("fulfilled_at", fulfilled, fulfilled < created, ">= ordered_at"),
    )
    shape = np.broadcast_shapes(created.shape, fulfilled.shape, groups.shape)
    groups = np.broadcast_to(groups, shape)
    done = _in_period(fulfilled, start, end)
    days = np.where(done, (fulfilled - created) / SECONDS_PER_DAY, 0.0)
    return ratio(group_sum(done, groups, n_groups), group_sum(days, groups, n_groups))


def order_efficiency(
    *, ordered_at: npt.ArrayLike, fulfilled_at: npt.ArrayLike, period_start: float, period_end: float
) -> float:
    """O = N / T over all the orders given (see `order_efficiency_by_group`)."""
    return float(
        order_efficiency_by_group(
            ordered_at=ordered_at,
            fulfilled_at=fulfilled_at,
            period_start=period_start,
            period_end=period_end,
            group_index=0,
            n_groups=1,
        )[0]
    )


def win_rate_by_group(
    *,
    stage: npt.ArrayLike,
    closed_at: npt.ArrayLike,
    period_start: float,
    period_end: float,
    group_index: npt.ArrayLike,
    n_groups: int,
) -> np.ndarray:
    """won / (won + lost) per group among opportunities closed during the period (spec section 3).

    One element per opportunity: its current `stage` code and `closed_at` (NaN
    while open). NaN for a group with nothing closed.
    """
    start, end = _period(period_start, period_end)
    code = as_group_index(stage, _N_STAGES, "stage")
    closed = as_float_array(closed_at)
    groups = as_group_index(group_index, n_groups)
    ensure_valid(check_optional_finite("closed_at", closed))
    shape = np.broadcast_shapes(code.shape, closed.shape, groups.shape)
    groups = np.broadcast_to(groups, shape)
    in_period = _in_period(closed, start, end)
    won = in_period & (code == FunnelStage.WON)
    lost = in_period & (code == FunnelStage.LOST)
    return ratio(group_sum(won, groups, n_groups), group_sum(won | lost, groups, n_groups))


def win_rate(*, stage: npt.ArrayLike, closed_at: npt.ArrayLike, period_start: float, period_end: float) -> float:
    """Win rate over all the opportunities given (see `win_rate_by_group`)."""
    return float(
        win_rate_by_group(
            stage=stage,
            closed_at=closed_at,
            period_start=period_start,
            period_end=period_end,
            group_index=0,
            n_groups=1,
        )[0]
    )


def stage_conversion_by_group(
    stays: StageStays,
    *,
    period_start: float,
    period_end: float,
    opportunity_group: npt.ArrayLike,
    n_groups: int,
) -> np.ndarray:
    """Stage conversion per group, shape (n_groups, 3), columns `NON_TERMINAL_STAGES` (spec section 3).

    For stage s: of the opportunities that entered s during the period, the share
    that afterwards entered a later stage (WON counts as later, LOST does not):
    either a stay in s entered since then was left forward, or a later stage was
    entered after the first entry into s in the period. NaN where none entered s.
    """
    start, end = _period(period_start, period_end)
    groups = _opportunity_groups(stays, opportunity_group, n_groups)
    opp = stays.opportunity
    out = np.empty((n_groups, len(NON_TERMINAL_STAGES)), dtype=np.float64)
    for column, stage in enumerate(NON_TERMINAL_STAGES):  # three stages, not records
        in_stage = stays.stage == stage
        entering = in_stage & _in_period(stays.entered_at, start, end)
        first_entry = np.full(stays.n_opportunities, np.inf)
        np.minimum.at(first_entry, opp[entering], stays.entered_at[entering])
        later = _is_later(stays.stage, stage)
        last_later_entry = np.full(stays.n_opportunities, -np.inf)
        np.maximum.at(last_later_entry, opp[later], stays.entered_at[later])
        entered = np.isfinite(first_entry)
        converted = entered & (last_later_entry > first_entry)
        left_forward = in_stage & _is_later(stays.next_stage, stage) & (stays.entered_at >= first_entry[opp])
        converted[opp[left_forward]] = True
        out[:, column] = ratio(group_sum(converted, groups, n_groups), group_sum(entered, groups, n_groups))
    return out


def stage_conversion(stays: StageStays, *, period_start: float, period_end: float) -> np.ndarray:
    """Stage conversion of Discovery, Communication, Follow-up (shape (3,)); see `stage_conversion_by_group`."""
    return stage_conversion_by_group(
        stays, period_start=period_start, period_end=period_end, opportunity_group=None, n_groups=1
    )[0]


def effective_probability(
    manual_probability: npt.ArrayLike, is_manual: npt.ArrayLike, stage_default: npt.ArrayLike
) -> np.ndarray:
    """The probability of spec sections 1 and 3: the one set by hand where there is one, else the stage's default.

    Fractions in [0, 1]; `manual_probability` is only read (and checked) where
    `is_manual`, so it may be NaN elsewhere.
    """
    manual = as_float_array(manual_probability)
    by_hand = as_bool_array(is_manual, "is_manual")
    default = as_float_array(stage_default)
    ensure_valid(
        Check("manual_probability", manual, by_hand & ~((manual >= 0) & (manual <= 1)), "a fraction in [0, 1]"),
        check_fraction("stage_default", default),
    )
    return np.asarray(np.where(by_hand, manual, default), dtype=np.float64)


def _pipeline_terms(amount: npt.ArrayLike, probability: npt.ArrayLike, is_open: npt.ArrayLike | None) -> np.ndarray:
    value = as_float_array(amount)
    chance = as_float_array(probability)
    ensure_valid(check_nonneg("amount", value), check_fraction("probability", chance))
    terms = value * chance
    if is_open is not None:
        terms = np.where(as_bool_array(is_open, "is_open"), terms, 0.0)
    return np.asarray(terms, dtype=np.float64)


def weighted_pipeline(
    *, amount: npt.ArrayLike, probability: npt.ArrayLike, is_open: npt.ArrayLike | None = None
) -> float:
    """sum(amount * probability) over open opportunities (spec section 3).

    `probability` is already resolved (see `effective_probability`); `is_open`
    selects the open ones (None: all given are open).
    """
    return float(np.sum(_pipeline_terms(amount, probability, is_open)))


def weighted_pipeline_by_group(
    *,
    amount: npt.ArrayLike,
    probability: npt.ArrayLike,
    group_index: npt.ArrayLike,
    n_groups: int,
    is_open: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Weighted pipeline per group (per rep; per customer it is the x of T3), shape (n_groups,); 0 for none."""
    terms = _pipeline_terms(amount, probability, is_open)
    groups = as_group_index(group_index, n_groups)
    shape = np.broadcast_shapes(terms.shape, groups.shape)
    return group_sum(terms, np.broadcast_to(groups, shape), n_groups)
