"""Satisfaction and visit-effect ratios, in percent: the kernels of spec section 2.

One element per visit; the caller chooses the set of visits (a customer, a rep, a
team, a period) by what it passes in. Each ratio is built from per-visit
numerator and denominator terms (`RatioTerms`), summed once for the whole set
(`percent`) or per group in one `numpy.bincount` pass (`percent_by_group`: per
rep, team, customer, month...). A ratio whose denominator is 0 is NaN ("—" on a
page, null in JSON: see `analytics.numbers.nan_to_none`), never 0 or 100.

Times are float epoch seconds (UTC), NaN where missing, so the kernels stay
timezone-free: where the spec needs a calendar day ("cancelled before the day it
was planned for") the caller passes the epoch second at which that local day
starts (`planned_day_start`), computed in the project's TIME_ZONE.

Booleans (`completed`) may be given as a bool array or as 0/1 numbers.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from analytics.numbers import (
    Check,
    as_bool_array,
    as_float_array,
    as_group_index,
    check_finite,
    check_nonneg,
    check_optional_finite,
    check_score,
    ensure_valid,
    group_sum,
    ratio,
)

__all__ = [
    "CHECK_IN_TOLERANCE_SECONDS",
    "REPORT_DEADLINE_SECONDS",
    "RatioTerms",
    "SatisfactionRatios",
    "cs_expectation",
    "cs_expectation_terms",
    "cs_need",
    "cs_need_terms",
    "cs_plan",
    "cs_plan_terms",
    "cs_policy",
    "cs_policy_terms",
    "percent",
    "percent_by_group",
    "ratios_of_sums",
    "satisfaction_ratios",
    "satisfaction_ratios_by_group",
    "satisfaction_sums_by_group",
]

CHECK_IN_TOLERANCE_SECONDS = 30 * 60  # |check-in - planned start| <= 30 min, either side
REPORT_DEADLINE_SECONDS = 24 * 60 * 60  # report filed at most 24 h after check-out


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class RatioTerms:
    """Per-visit terms of one ratio: the ratio of a set is 100 * sum(numerator) / sum(denominator)."""

    numerator: np.ndarray
    denominator: np.ndarray


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class SatisfactionRatios:
    """The four ratios of spec section 2: floats for one set, arrays (one per group) when grouped."""

    need: float | np.ndarray
    expectation: float | np.ndarray
    plan: float | np.ndarray
    policy: float | np.ndarray


def percent(terms: RatioTerms) -> float:
    """100 * sum(numerator) / sum(denominator) over the whole set; NaN when the denominator is 0."""
    numerator = float(np.sum(terms.numerator))
    denominator = float(np.sum(terms.denominator))
    return 100.0 * numerator / denominator if denominator != 0 else float("nan")


def percent_by_group(terms: RatioTerms, *, group_index: npt.ArrayLike, n_groups: int) -> np.ndarray:
    """The ratio of every group in one bincount pass: shape (n_groups,), NaN for a group with denominator 0.

    `group_index` (integers in [0, n_groups)) broadcasts against the visits.
    """
    groups = as_group_index(group_index, n_groups)
    shape = np.broadcast_shapes(groups.shape, terms.numerator.shape, terms.denominator.shape)
    groups = np.broadcast_to(groups, shape)
    return ratio(
        group_sum(terms.numerator, groups, n_groups),
        group_sum(terms.denominator, groups, n_groups),
        scale=100.0,
    )


def cs_need_terms(
    *, completed: npt.ArrayLike, needs_raised: npt.ArrayLike, needs_satisfied: npt.ArrayLike
) -> RatioTerms:
    """CS_need terms: needs satisfied over needs raised, completed visits only (spec section 2)."""
    done = as_bool_array(completed, "completed")
    raised = as_float_array(needs_raised)
    satisfied = as_float_array(needs_satisfied)
    ensure_valid(
        check_nonneg("needs_raised", raised),
        check_nonneg("needs_satisfied", satisfied),
        Check("needs_satisfied", satisfied, satisfied > raised, "<= needs_raised"),
    )
    return RatioTerms(numerator=np.where(done, satisfied, 0.0), denominator=np.where(done, raised, 0.0))


def cs_expectation_terms(
    *, completed: npt.ArrayLike, actual_satisfaction: npt.ArrayLike, expected_satisfaction: npt.ArrayLike
) -> RatioTerms:
    """CS_expectation terms: actual over expected score, completed visits having both scores (spec section 2).

    Scores are 1..5, NaN where not given.
    """
    done = as_bool_array(completed, "completed")
    actual = as_float_array(actual_satisfaction)
    expected = as_float_array(expected_satisfaction)
    ensure_valid(check_score("actual_satisfaction", actual), check_score("expected_satisfaction", expected))
    scored = done & ~np.isnan(actual) & ~np.isnan(expected)
    return RatioTerms(numerator=np.where(scored, actual, 0.0), denominator=np.where(scored, expected, 0.0))


def cs_plan_terms(
    *,
    completed: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    planned_day_start: npt.ArrayLike,
    cancelled_at: npt.ArrayLike,
    period_start: float | None = None,
    period_end: float | None = None,
) -> RatioTerms:
    """CS_plan terms: completed over planned (spec section 2).

    Planned counts the visits whose `planned_start` lies in [period_start,
    period_end) (each bound optional: the caller may pass only the period's
    visits), leaving out those cancelled before the day they were planned for,
    i.e. with ``cancelled_at < planned_day_start`` (the epoch second at which the
    planned start's local day begins, computed by the caller in TIME_ZONE).
    `cancelled_at` is NaN for a visit never cancelled (or cancelled at an unknown
    time, which then counts as planned). Completed counts those of them completed.
    """
    done = as_bool_array(completed, "completed")
    start = as_float_array(planned_start)
    day_start = as_float_array(planned_day_start)
    cancelled = as_float_array(cancelled_at)
    ensure_valid(
        check_finite("planned_start", start),
        check_finite("planned_day_start", day_start),
        Check("planned_day_start", day_start, day_start > start, "<= planned_start"),
        check_optional_finite("cancelled_at", cancelled),
    )
    for name, bound in (("period_start", period_start), ("period_end", period_end)):
        if bound is not None:
            ensure_valid(check_finite(name, as_float_array(bound)))
    in_period = np.ones(np.broadcast_shapes(start.shape, day_start.shape, cancelled.shape, done.shape), dtype=bool)
    if period_start is not None:
        in_period &= start >= period_start
    if period_end is not None:
        in_period &= start < period_end
    planned = in_period & ~(cancelled < day_start)
    return RatioTerms(numerator=(planned & done).astype(np.float64), denominator=planned.astype(np.float64))


def cs_policy_terms(
    *,
    completed: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    checked_in_at: npt.ArrayLike,
    checked_out_at: npt.ArrayLike,
    report_filed_at: npt.ArrayLike,
) -> RatioTerms:
    """CS_policy (compliance) terms: compliant over completed visits (spec section 2).

    A completed visit is compliant when ``|checked_in_at - planned_start| <= 30
    min`` (early or late) and ``report_filed_at - checked_out_at <= 24 h`` (a
    report filed before check-out counts as on time). A missing (NaN) check-in,
    check-out or report makes it non-compliant; it still counts as completed.
    """
    done = as_bool_array(completed, "completed")
    start = as_float_array(planned_start)
    check_in = as_float_array(checked_in_at)
    check_out = as_float_array(checked_out_at)
    report = as_float_array(report_filed_at)
    ensure_valid(
        check_finite("planned_start", start),
        check_optional_finite("checked_in_at", check_in),
        check_optional_finite("checked_out_at", check_out),
        check_optional_finite("report_filed_at", report),
    )
    # NaN compares False, so a missing timestamp is never compliant.
    on_time = np.abs(check_in - start) <= CHECK_IN_TOLERANCE_SECONDS
    reported = (report - check_out) <= REPORT_DEADLINE_SECONDS
    compliant = done & on_time & reported
    return RatioTerms(
        numerator=compliant.astype(np.float64),
        denominator=np.broadcast_to(done, compliant.shape).astype(np.float64),
    )


def cs_need(*, completed: npt.ArrayLike, needs_raised: npt.ArrayLike, needs_satisfied: npt.ArrayLike) -> float:
    """CS_need = 100 * sum(needs_satisfied) / sum(needs_raised) over completed visits; NaN when undefined."""
    return percent(cs_need_terms(completed=completed, needs_raised=needs_raised, needs_satisfied=needs_satisfied))


def cs_expectation(
    *, completed: npt.ArrayLike, actual_satisfaction: npt.ArrayLike, expected_satisfaction: npt.ArrayLike
) -> float:
    """CS_expectation = 100 * sum(actual) / sum(expected) over completed visits with both scores."""
    return percent(
        cs_expectation_terms(
            completed=completed, actual_satisfaction=actual_satisfaction, expected_satisfaction=expected_satisfaction
        )
    )


def cs_plan(
    *,
    completed: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    planned_day_start: npt.ArrayLike,
    cancelled_at: npt.ArrayLike,
    period_start: float | None = None,
    period_end: float | None = None,
) -> float:
    """CS_plan = 100 * completed / planned (see `cs_plan_terms`); NaN when nothing was planned."""
    return percent(
        cs_plan_terms(
            completed=completed,
            planned_start=planned_start,
            planned_day_start=planned_day_start,
            cancelled_at=cancelled_at,
            period_start=period_start,
            period_end=period_end,
        )
    )


def cs_policy(
    *,
    completed: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    checked_in_at: npt.ArrayLike,
    checked_out_at: npt.ArrayLike,
    report_filed_at: npt.ArrayLike,
) -> float:
    """CS_policy = 100 * compliant / completed (see `cs_policy_terms`); NaN when nothing was completed."""
    return percent(
        cs_policy_terms(
            completed=completed,
            planned_start=planned_start,
            checked_in_at=checked_in_at,
            checked_out_at=checked_out_at,
            report_filed_at=report_filed_at,
        )
    )


def _all_terms(
    *,
    completed: npt.ArrayLike,
    needs_raised: npt.ArrayLike,
    needs_satisfied: npt.ArrayLike,
    actual_satisfaction: npt.ArrayLike,
    expected_satisfaction: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    planned_day_start: npt.ArrayLike,
    cancelled_at: npt.ArrayLike,
    checked_in_at: npt.ArrayLike,
    checked_out_at: npt.ArrayLike,
    report_filed_at: npt.ArrayLike,
    period_start: float | None,
    period_end: float | None,
) -> tuple[RatioTerms, RatioTerms, RatioTerms, RatioTerms]:
    done = as_bool_array(completed, "completed")
    return (
        cs_need_terms(completed=done, needs_raised=needs_raised, needs_satisfied=needs_satisfied),
        cs_expectation_terms(
            completed=done, actual_satisfaction=actual_satisfaction, expected_satisfaction=expected_satisfaction
        ),
        cs_plan_terms(
            completed=done,
            planned_start=planned_start,
            planned_day_start=planned_day_start,
            cancelled_at=cancelled_at,
            period_start=period_start,
            period_end=period_end,
        ),
        cs_policy_terms(
            completed=done,
            planned_start=planned_start,
            checked_in_at=checked_in_at,
            checked_out_at=checked_out_at,
            report_filed_at=report_filed_at,
        ),
    )


def satisfaction_ratios(
    *,
    completed: npt.ArrayLike,
    needs_raised: npt.ArrayLike,
    needs_satisfied: npt.ArrayLike,
    actual_satisfaction: npt.ArrayLike,
    expected_satisfaction: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    planned_day_start: npt.ArrayLike,
    cancelled_at: npt.ArrayLike,
    checked_in_at: npt.ArrayLike,
    checked_out_at: npt.ArrayLike,
    report_filed_at: npt.ArrayLike,
    period_start: float | None = None,
    period_end: float | None = None,
) -> SatisfactionRatios:
    """All four ratios of one set of visits (arguments as in the `*_terms` functions)."""
    need, expectation, plan, policy = _all_terms(
        completed=completed,
        needs_raised=needs_raised,
        needs_satisfied=needs_satisfied,
        actual_satisfaction=actual_satisfaction,
        expected_satisfaction=expected_satisfaction,
        planned_start=planned_start,
        planned_day_start=planned_day_start,
        cancelled_at=cancelled_at,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
        report_filed_at=report_filed_at,
        period_start=period_start,
        period_end=period_end,
    )
    return SatisfactionRatios(
        need=percent(need), expectation=percent(expectation), plan=percent(plan), policy=percent(policy)
    )


def satisfaction_sums_by_group(
    *,
    group_index: npt.ArrayLike,
    n_groups: int,
    completed: npt.ArrayLike,
    needs_raised: npt.ArrayLike,
    needs_satisfied: npt.ArrayLike,
    actual_satisfaction: npt.ArrayLike,
    expected_satisfaction: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    planned_day_start: npt.ArrayLike,
    cancelled_at: npt.ArrayLike,
    checked_in_at: npt.ArrayLike,
    checked_out_at: npt.ArrayLike,
    report_filed_at: npt.ArrayLike,
    period_start: float | None = None,
    period_end: float | None = None,
) -> tuple[RatioTerms, RatioTerms, RatioTerms, RatioTerms]:
    """The four ratios' (need, expectation, plan, policy) numerator and denominator sums per group.

    Every term is a whole number, so the sums of a union of groups are exact:
    `ratios_of_sums` gives the ratios of single groups and of unions of them.
    """
    groups = as_group_index(group_index, n_groups)
    terms = _all_terms(
        completed=completed,
        needs_raised=needs_raised,
        needs_satisfied=needs_satisfied,
        actual_satisfaction=actual_satisfaction,
        expected_satisfaction=expected_satisfaction,
        planned_start=planned_start,
        planned_day_start=planned_day_start,
        cancelled_at=cancelled_at,
        checked_in_at=checked_in_at,
        checked_out_at=checked_out_at,
        report_filed_at=report_filed_at,
        period_start=period_start,
        period_end=period_end,
    )
    return tuple(_group_sums(t, groups, n_groups) for t in terms)


def _group_sums(terms: RatioTerms, groups: np.ndarray, n_groups: int) -> RatioTerms:
    """The terms summed per group (as `percent_by_group` sums them)."""
    shape = np.broadcast_shapes(groups.shape, terms.numerator.shape, terms.denominator.shape)
    groups = np.broadcast_to(groups, shape)
    return RatioTerms(
        numerator=group_sum(terms.numerator, groups, n_groups),
        denominator=group_sum(terms.denominator, groups, n_groups),
    )


def ratios_of_sums(sums: tuple[RatioTerms, RatioTerms, RatioTerms, RatioTerms]) -> SatisfactionRatios:
    """The four ratios (percent, NaN where undefined) of `satisfaction_sums_by_group` sums, group by group."""
    need, expectation, plan, policy = (ratio(s.numerator, s.denominator, scale=100.0) for s in sums)
    return SatisfactionRatios(need=need, expectation=expectation, plan=plan, policy=policy)


def satisfaction_ratios_by_group(
    *,
    group_index: npt.ArrayLike,
    n_groups: int,
    completed: npt.ArrayLike,
    needs_raised: npt.ArrayLike,
    needs_satisfied: npt.ArrayLike,
    actual_satisfaction: npt.ArrayLike,
    expected_satisfaction: npt.ArrayLike,
    planned_start: npt.ArrayLike,
    planned_day_start: npt.ArrayLike,
    cancelled_at: npt.ArrayLike,
    checked_in_at: npt.ArrayLike,
    checked_out_at: npt.ArrayLike,
    report_filed_at: npt.ArrayLike,
    period_start: float | None = None,
    period_end: float | None = None,
) -> SatisfactionRatios:
    """All four ratios per group (rep, team, customer, month...): arrays of shape (n_groups,), NaN if undefined."""
    return ratios_of_sums(
        satisfaction_sums_by_group(
            group_index=group_index,
            n_groups=n_groups,
            completed=completed,
            needs_raised=needs_raised,
            needs_satisfied=needs_satisfied,
            actual_satisfaction=actual_satisfaction,
            expected_satisfaction=expected_satisfaction,
            planned_start=planned_start,
            planned_day_start=planned_day_start,
            cancelled_at=cancelled_at,
            checked_in_at=checked_in_at,
            checked_out_at=checked_out_at,
            report_filed_at=report_filed_at,
            period_start=period_start,
            period_end=period_end,
        )
    )
