"""Spec section 2 ratios: hand-computed visit sets, a literal per-visit reference, grouping, NaN -> None."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import satisfaction as cs
from analytics.numbers import nan_to_none, nan_to_none_list

NAN = math.nan
H = 3600.0
DAY = 86400.0
D = 1_735_689_600.0  # the local day start of the planned visits (the caller's TIME_ZONE midnight)


def visit_set():
    """Six visits whose four ratios are worked out by hand below."""
    return {
        #  V0: completed, 10 min late, report after 2 h          -> compliant
        #  V1: completed, 45 min late, no expected score         -> not compliant
        #  V2: still planned
        #  V3: cancelled the day before                          -> not planned
        #  V4: cancelled on the day, 1 h before the start        -> planned, not completed
        #  V5: completed, 20 min early, report after 25 h        -> not compliant
        "completed": [True, True, False, False, False, True],
        "needs_raised": [3, 1, 0, 2, 0, 2],
        "needs_satisfied": [2, 1, 0, 0, 0, 0],
        "actual_satisfaction": [4, 3, NAN, NAN, NAN, 2],
        "expected_satisfaction": [5, NAN, 4, NAN, NAN, 4],
        "planned_start": [D + 9 * H] * 6,
        "planned_day_start": [D] * 6,
        "cancelled_at": [NAN, NAN, NAN, D - 2 * H, D + 8 * H, NAN],
        "checked_in_at": [D + 9 * H + 600, D + 9 * H + 2700, NAN, NAN, NAN, D + 9 * H - 1200],
        "checked_out_at": [D + 10 * H, D + 11 * H, NAN, NAN, NAN, D + 10 * H],
        "report_filed_at": [D + 12 * H, D + 11 * H, NAN, NAN, NAN, D + 35 * H],
    }


NEED_KEYS = ("completed", "needs_raised", "needs_satisfied")
EXPECTATION_KEYS = ("completed", "actual_satisfaction", "expected_satisfaction")
PLAN_KEYS = ("completed", "planned_start", "planned_day_start", "cancelled_at")
POLICY_KEYS = ("completed", "planned_start", "checked_in_at", "checked_out_at", "report_filed_at")


def pick(visits, keys):
    return {key: visits[key] for key in keys}


def test_hand_computed_ratios():
    v = visit_set()
    # CS_need = 100 * (2 + 1 + 0) / (3 + 1 + 2) over V0, V1, V5 = 50
    assert cs.cs_need(**pick(v, NEED_KEYS)) == pytest.approx(50.0)
    # CS_expectation = 100 * (4 + 2) / (5 + 4): V1 lacks the expected score = 66.67
    assert cs.cs_expectation(**pick(v, EXPECTATION_KEYS)) == pytest.approx(100 * 6 / 9)
    # CS_plan = 100 * 3 completed / 5 planned (V3 cancelled the day before is left out) = 60
    assert cs.cs_plan(**pick(v, PLAN_KEYS)) == pytest.approx(60.0)
    # CS_policy = 100 * 1 compliant (V0) / 3 completed = 33.33
    assert cs.cs_policy(**pick(v, POLICY_KEYS)) == pytest.approx(100 / 3)
    both = cs.satisfaction_ratios(**v)
    assert (both.need, both.expectation, both.plan, both.policy) == pytest.approx([50.0, 100 * 6 / 9, 60.0, 100 / 3])


def test_grouped_ratios_in_one_pass():
    v = visit_set()
    # Group 0: V0, V1, V5; group 1: V2, V3, V4; group 2: nobody.
    by_group = cs.satisfaction_ratios_by_group(group_index=[0, 0, 1, 1, 1, 0], n_groups=3, **v)
    assert nan_to_none_list(by_group.need) == [pytest.approx(50.0), None, None]
    assert nan_to_none_list(by_group.expectation) == [pytest.approx(100 * 6 / 9), None, None]
    # Group 1 planned V2 and V4 and completed neither: 0 %, which is defined, unlike group 2.
    assert nan_to_none_list(by_group.plan) == [100.0, 0.0, None]
    assert nan_to_none_list(by_group.policy) == [pytest.approx(100 / 3), None, None]


def test_group_sums_give_the_ratios_of_groups_and_of_their_union():
    v = visit_set()
    # Group 0: V0, V5; group 1: V1, V2, V3, V4.
    need, expectation, plan, policy = cs.satisfaction_sums_by_group(group_index=[0, 1, 1, 1, 1, 0], n_groups=2, **v)
    assert need.numerator.tolist() == [2.0, 1.0]  # satisfied: V0 2 + V5 0; V1 1
    assert need.denominator.tolist() == [5.0, 1.0]  # raised by completed visits: V0 3 + V5 2; V1 1
    assert (expectation.numerator.tolist(), expectation.denominator.tolist()) == ([6.0, 0.0], [9.0, 0.0])
    assert (plan.numerator.tolist(), plan.denominator.tolist()) == ([2.0, 1.0], [2.0, 3.0])
    assert (policy.numerator.tolist(), policy.denominator.tolist()) == ([1.0, 0.0], [2.0, 1.0])
    by_group = cs.ratios_of_sums((need, expectation, plan, policy))
    assert nan_to_none_list(by_group.expectation) == [pytest.approx(100 * 6 / 9), None]
    # The union's sums are the groups' sums: the ratios of all six visits.
    union = cs.ratios_of_sums(
        tuple(
            cs.RatioTerms(numerator=t.numerator.sum(keepdims=True), denominator=t.denominator.sum(keepdims=True))
            for t in (need, expectation, plan, policy)
        )
    )
    everything = cs.satisfaction_ratios(**v)
    assert [union.need[0], union.expectation[0], union.plan[0], union.policy[0]] == [
        everything.need,
        everything.expectation,
        everything.plan,
        everything.policy,
    ]


def test_period_bounds_select_planned_visits():
    v = pick(visit_set(), PLAN_KEYS)
    v["planned_start"] = [D + 9 * H, D + 9 * H, D + 9 * H, D + 9 * H, D + 9 * H, D + 30 * H]
    v["planned_day_start"] = [D, D, D, D, D, D + DAY]
    # Only the first day [D, D + 1 day): V0, V1, V2, V4 planned, V0 and V1 completed = 50 %
    assert cs.cs_plan(**v, period_start=D, period_end=D + DAY) == pytest.approx(50.0)
    # The second day holds V5 alone, completed.
    assert cs.cs_plan(**v, period_start=D + DAY, period_end=D + 2 * DAY) == 100.0
    # No planned visit in the period: undefined.
    assert math.isnan(cs.cs_plan(**v, period_start=D - DAY, period_end=D))


def test_compliance_boundaries():
    start = D + 9 * H
    check_in = [start - 1800, start + 1800, start + 1801, start - 1801, start, start, start]
    check_out = [start + H] * 7
    report = [start + H + DAY, start + H, start + H, start + H, start + H + DAY + 1, start, NAN]
    terms = cs.cs_policy_terms(
        completed=[1] * 7,
        planned_start=[start] * 7,
        checked_in_at=check_in,
        checked_out_at=check_out,
        report_filed_at=report,
    )
    # 30 min either side and 24 h after check-out are inside; a report before check-out is on time;
    # a missing report is not.
    assert terms.numerator.tolist() == [1, 1, 0, 0, 0, 1, 0]
    assert terms.denominator.tolist() == [1] * 7


def test_cancelled_on_the_day_still_counts_as_planned():
    terms = cs.cs_plan_terms(
        completed=[False, False, False],
        planned_start=[D + 9 * H] * 3,
        planned_day_start=[D] * 3,
        cancelled_at=[D - 1, D, D + 8 * H],  # the evening before / at midnight / that morning
    )
    assert terms.denominator.tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "kernel",
    [
        lambda: cs.cs_need(completed=[False], needs_raised=[3], needs_satisfied=[1]),
        lambda: cs.cs_need(completed=[True], needs_raised=[0], needs_satisfied=[0]),
        lambda: cs.cs_expectation(completed=[True], actual_satisfaction=[4], expected_satisfaction=[NAN]),
        lambda: cs.cs_plan(completed=[], planned_start=[], planned_day_start=[], cancelled_at=[]),
        lambda: cs.cs_policy(
            completed=[False], planned_start=[D], checked_in_at=[D], checked_out_at=[D], report_filed_at=[D]
        ),
    ],
)
def test_undefined_ratio_is_nan_and_none_at_the_edge(kernel):
    value = kernel()
    assert math.isnan(value)
    assert nan_to_none(value) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"completed": [1, 1], "needs_raised": [1, 2], "needs_satisfied": [1, 3]},
            r"^needs_satisfied at index 1 is 3\.0: must be <= needs_raised$",
        ),
        (
            {"completed": [1, 1], "needs_raised": [1, -2], "needs_satisfied": [1, 0]},
            r"^needs_raised at index 1 is -2\.0: must be a finite number >= 0$",
        ),
        (
            {"completed": [1, 2], "needs_raised": [1, 2], "needs_satisfied": [1, 0]},
            r"^completed at index 1 is 2: must be a boolean \(0 or 1\)$",
        ),
    ],
)
def test_need_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        cs.cs_need(**kwargs)


def test_other_ratios_reject():
    with pytest.raises(
        ValueError, match=r"^actual_satisfaction at index 0 is 6\.0: must be a score in \[1, 5\] or NaN"
    ):
        cs.cs_expectation(completed=[True], actual_satisfaction=[6], expected_satisfaction=[5])
    with pytest.raises(ValueError, match=r"^expected_satisfaction at index 1 is 0\.0"):
        cs.cs_expectation(completed=[True, True], actual_satisfaction=[2, 2], expected_satisfaction=[5, 0])
    with pytest.raises(ValueError, match=r"^planned_start at index 1 is nan: must be a finite number$"):
        cs.cs_plan(completed=[1, 1], planned_start=[D, NAN], planned_day_start=[D, D], cancelled_at=[NAN, NAN])
    with pytest.raises(ValueError, match=r"^planned_day_start at index 0 is .*: must be <= planned_start$"):
        cs.cs_plan(completed=[1], planned_start=[D], planned_day_start=[D + 1], cancelled_at=[NAN])
    with pytest.raises(ValueError, match=r"^cancelled_at at index 0 is inf: must be a finite number or NaN"):
        cs.cs_plan(completed=[1], planned_start=[D], planned_day_start=[D], cancelled_at=[np.inf])
    with pytest.raises(ValueError, match=r"^period_end is nan"):
        cs.cs_plan(completed=[1], planned_start=[D], planned_day_start=[D], cancelled_at=[NAN], period_end=NAN)
    with pytest.raises(ValueError, match=r"^report_filed_at at index 0 is -inf"):
        cs.cs_policy(completed=[1], planned_start=[D], checked_in_at=[D], checked_out_at=[D], report_filed_at=[-np.inf])
    with pytest.raises(ValueError, match=r"^group_index at index 2 is 3: must be an integer in \[0, 3\)$"):
        cs.percent_by_group(
            cs.cs_need_terms(completed=[1, 1, 1], needs_raised=[1, 1, 1], needs_satisfied=[0, 0, 0]),
            group_index=[0, 1, 3],
            n_groups=3,
        )


def test_empty_sets():
    empty = {key: [] for key in visit_set()}
    ratios = cs.satisfaction_ratios(**empty)
    assert all(math.isnan(r) for r in (ratios.need, ratios.expectation, ratios.plan, ratios.policy))
    grouped = cs.satisfaction_ratios_by_group(group_index=np.empty(0, dtype=int), n_groups=2, **empty)
    assert nan_to_none_list(grouped.plan) == [None, None]


# --- against a literal per-visit loop --------------------------------------------------------

score = st.one_of(st.just(NAN), st.integers(1, 5).map(float))
maybe = st.one_of(st.just(NAN), st.floats(min_value=-3 * H, max_value=3 * H))


@st.composite
def visits(draw):
    raised = draw(st.integers(0, 6))
    start_offset = draw(st.floats(min_value=0, max_value=DAY - 1))
    return {
        "completed": draw(st.booleans()),
        "needs_raised": float(raised),
        "needs_satisfied": float(draw(st.integers(0, raised))),
        "actual_satisfaction": draw(score),
        "expected_satisfaction": draw(score),
        "planned_start": D + start_offset,
        "planned_day_start": D,
        "cancelled_at": draw(st.one_of(st.just(NAN), st.floats(min_value=D - 2 * DAY, max_value=D + 2 * DAY))),
        "checked_in_at": D + start_offset + draw(maybe),
        "checked_out_at": D + start_offset + H + draw(maybe),
        "report_filed_at": D + start_offset + H + draw(st.one_of(st.just(NAN), st.floats(0, 2 * DAY))),
        "group": draw(st.integers(0, 3)),
    }


def reference(rows):
    """The spec's four formulas, one visit at a time; None where the denominator is 0."""

    def pct(num, den):
        return 100 * num / den if den else None

    done = [r for r in rows if r["completed"]]
    scored = [
        r for r in done if not math.isnan(r["actual_satisfaction"]) and not math.isnan(r["expected_satisfaction"])
    ]
    planned = [r for r in rows if not (r["cancelled_at"] < r["planned_day_start"])]
    compliant = [
        r
        for r in done
        if abs(r["checked_in_at"] - r["planned_start"]) <= 30 * 60
        and r["report_filed_at"] - r["checked_out_at"] <= 24 * 3600
    ]
    return [
        pct(sum(r["needs_satisfied"] for r in done), sum(r["needs_raised"] for r in done)),
        pct(sum(r["actual_satisfaction"] for r in scored), sum(r["expected_satisfaction"] for r in scored)),
        pct(sum(1 for r in planned if r["completed"]), len(planned)),
        pct(len(compliant), len(done)),
    ]


def columns_of(rows):
    keys = list(visit_set())
    return {k: np.array([r[k] for r in rows], dtype=float if k != "completed" else bool) for k in keys}


@settings(deadline=None)
@given(st.lists(visits(), max_size=30))
def test_ratios_match_reference(rows):
    got = cs.satisfaction_ratios(**columns_of(rows))
    expected = reference(rows)
    assert nan_to_none_list([got.need, got.expectation, got.plan, got.policy]) == [
        None if e is None else pytest.approx(e, rel=1e-12) for e in expected
    ]


@settings(deadline=None)
@given(st.lists(visits(), max_size=30))
def test_grouped_ratios_match_reference_per_group(rows):
    got = cs.satisfaction_ratios_by_group(group_index=[r["group"] for r in rows], n_groups=4, **columns_of(rows))
    for group in range(4):
        expected = reference([r for r in rows if r["group"] == group])
        row = [got.need[group], got.expectation[group], got.plan[group], got.policy[group]]
        assert nan_to_none_list(row) == [None if e is None else pytest.approx(e, rel=1e-12) for e in expected]
