"""Visit effect: the kernels on hand-made arrays, then the report on a small database worked out by hand."""

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.visit_effect import RepVisitEffect, visit_effect_report
from analytics.visit_effect_math import baseline_pairs, effect_counts_by_group, visits_with_effect
from sales.models import StageChange
from tests.factories import (
    CustomerFactory,
    OpportunityFactory,
    OrderFactory,
    RepProfileFactory,
    VisitFactory,
    stage,
)
from visits.models import Visit

DAY = 86_400.0

# --- kernels ---------------------------------------------------------------------------------


def test_visits_with_effect_by_hand():
    # Customer 7: events on days 10 and 30 (given out of order). Customer 9: event on day 3.
    event_customer = [7, 9, 7]
    event_time = [30 * DAY, 3 * DAY, 10 * DAY]
    visits = [
        (7, 2 * DAY),  # next event day 10, 8 days later -> True
        (7, 10 * DAY),  # the day-10 event is not after itself; next is day 30, 20 days -> False
        (7, 16 * DAY),  # day 30 is exactly 14 days later: inclusive -> True
        (7, 31 * DAY),  # nothing after -> False
        (9, 0.0),  # day 3 -> True
        (9, 3 * DAY + 1),  # one second after the only event -> False
        (8, 0.0),  # no events at all for this customer (between 7 and 9) -> False
        (1, 0.0),  # below every customer -> False
        (99, 0.0),  # above every customer -> False
    ]
    result = visits_with_effect([v[0] for v in visits], [v[1] for v in visits], event_customer, event_time)
    assert result.tolist() == [True, False, True, False, True, False, False, False, False]


def test_visits_with_effect_empty_and_invalid():
    assert visits_with_effect([], [], [1], [0.0]).tolist() == []
    assert visits_with_effect([1, 2], [0.0, 1.0], [], []).tolist() == [False, False]
    with pytest.raises(ValueError, match=r"^visit_time at index 1 is nan: must be a finite number$"):
        visits_with_effect([1, 2], [0.0, math.nan], [1], [0.0])
    with pytest.raises(ValueError, match=r"^visit_time has 1 elements but visit_customer has 2$"):
        visits_with_effect([1, 2], [0.0], [1], [0.0])
    with pytest.raises(ValueError, match=r"^horizon is 0: must be a finite number > 0$"):
        visits_with_effect([1], [0.0], [1], [0.0], horizon=0)
    with pytest.raises(TypeError, match="event_customer must be integer ids"):
        visits_with_effect([1], [0.0], [1.5], [0.0])


@settings(deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 40)), max_size=25),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 40)), max_size=25),
)
def test_visits_with_effect_matches_a_plain_loop(visits, events):
    # Whole days so that equal times and exact 14-day gaps happen often.
    horizon = 14 * DAY
    expected = [any(ec == vc and 0 < (et - vt) * DAY <= horizon for ec, et in events) for vc, vt in visits]
    result = visits_with_effect(
        np.array([v[0] for v in visits], dtype=np.int64),
        np.array([v[1] * DAY for v in visits]),
        np.array([e[0] for e in events], dtype=np.int64),
        np.array([e[1] * DAY for e in events]),
        horizon,
    )
    assert result.tolist() == expected


def test_baseline_pairs_by_hand():
    # Period of 30 days -> floor(30 / 14) = 2 whole windows: [0, 14) and [14, 28) days.
    # Customers 1, 2, 3 (3 listed twice) -> 3 x 2 = 6 pairs.
    # Customer 1: events on days 3 and 10 (one pair, window 0) and day 28 (outside both windows).
    # Customer 2: event on day 14 exactly -> window 1. Customer 3: none. Customer 5 is not a baseline customer.
    with_event, total = baseline_pairs(
        [3, 1, 2, 3],
        [1, 1, 1, 2, 5, 1],
        [3 * DAY, 10 * DAY, 28 * DAY, 14 * DAY, 1 * DAY, -1.0],
        period_start=0.0,
        period_end=30 * DAY,
    )
    assert (with_event, total) == (2, 6)


def test_baseline_pairs_undefined_cases():
    # A period shorter than one window has no whole window: no pairs.
    assert baseline_pairs([1], [1], [DAY], period_start=0.0, period_end=13 * DAY) == (0, 0)
    # No baseline customers: no pairs.
    assert baseline_pairs([], [1], [DAY], period_start=0.0, period_end=28 * DAY) == (0, 0)
    with pytest.raises(ValueError, match="period_end 0.0 is before period_start 1.0"):
        baseline_pairs([1], [], [], period_start=1.0, period_end=0.0)


def test_effect_counts_by_group():
    # Group 0: T, F, T -> 2 of 3; group 1: F -> 0 of 1; group 2: no visit.
    hits, n = effect_counts_by_group([True, False, False, True], [0, 0, 1, 0], 3)
    assert n.tolist() == [3, 1, 0]
    assert hits.tolist() == [2.0, 0.0, 0.0]
    with pytest.raises(ValueError, match=r"^group_index at index 0 is 3"):
        effect_counts_by_group([True], [3], 3)
    with pytest.raises(ValueError, match="effective"):
        effect_counts_by_group([2], [0], 1)


# --- the report on the database -------------------------------------------------------------

START = datetime(2025, 5, 5, tzinfo=UTC)
END = START + timedelta(days=28)  # two whole 14-day windows


def at(day: float) -> datetime:
    return START + timedelta(days=day)


def completed_visit(customer, day: float, rep=None) -> Visit:
    out = at(day)
    return VisitFactory(
        customer=customer,
        rep=rep or customer.owner,
        planned_start=out - timedelta(hours=1),
        status=Visit.Status.COMPLETED,
        checked_in_at=out - timedelta(minutes=40),
        checked_out_at=out,
    )


def move(customer, day: float, from_code: str, to_code: str) -> StageChange:
    opportunity = OpportunityFactory(customer=customer, opened_at=at(-60))
    return StageChange.objects.create(
        opportunity=opportunity, from_stage=stage(from_code), to_stage=stage(to_code), changed_at=at(day)
    )


def order(customer, day: float):
    return OrderFactory(opportunity=OpportunityFactory(customer=customer, opened_at=at(-60)), ordered_at=at(day))


@pytest.fixture
def field(db):
    """Two reps (r1, r2) of interest and an outsider (r3); every event's role is in the comments."""
    r1, r2, r3 = (RepProfileFactory().user for _ in range(3))
    c1, c2, c4, c6, c7 = (CustomerFactory(owner=r1) for _ in range(5))
    c3, c5 = (CustomerFactory(owner=r2) for _ in range(2))
    c8 = CustomerFactory(owner=r3)
    c6.status = "inactive"
    c6.save()

    # c1 (r1): visits day 2 and day 20. Forward move day 10 -> day 2 effective (8 days);
    # the order on day 40 is 20 days after day 20 -> not effective.
    completed_visit(c1, 2)
    completed_visit(c1, 20)
    move(c1, 10, "discovery", "communication")
    order(c1, 40)
    completed_visit(c1, 28)  # checked out at the period's end: outside [start, end)
    completed_visit(c1, -1)  # before the period
    # c2 (r1): visit day 5. A backward move (day 6) and a move to Lost (day 7) are not forward;
    # the order on day 19 is exactly 14 days later -> effective.
    completed_visit(c2, 5)
    move(c2, 6, "follow-up", "communication")
    move(c2, 7, "follow-up", "lost")
    order(c2, 19)
    VisitFactory(customer=c2, planned_start=at(8), status=Visit.Status.MISSED)  # not completed
    # c3 (r2): visit day 1; the move at the very check-out moment is not after it -> not effective.
    completed_visit(c3, 1)
    move(c3, 1, "communication", "follow-up")
    # c4 (r1), not visited: moves on days 3 and 10 (window 0, one pair), a move to Won on day 30
    # (after the windows); its first StageChange, from no stage, on day 20 is no move.
    move(c4, 3, "discovery", "communication")
    move(c4, 10, "communication", "follow-up")
    move(c4, 30, "follow-up", "won")
    StageChange.objects.create(
        opportunity=OpportunityFactory(customer=c4, opened_at=at(20)), to_stage=stage("discovery"), changed_at=at(20)
    )
    # c5 (r2), not visited: Won on day 14 exactly -> window 1 [14, 28); an order on day 28 -> no window.
    move(c5, 14, "follow-up", "won")
    order(c5, 28)
    # c6 (r1) is inactive: never a baseline customer even with events.
    move(c6, 4, "discovery", "communication")
    # c7 (r1), visited only before the period (day -3): a baseline customer without events.
    completed_visit(c7, -3)
    # c8 (r3): r3 visits day 4, forward move day 6 -> effective; outside r1/r2's figures.
    completed_visit(c8, 4)
    move(c8, 6, "discovery", "follow-up")
    # A lead without a customer: its events belong to nobody.
    StageChange.objects.create(
        opportunity=OpportunityFactory(customer=None, owner=r1),
        from_stage=stage("discovery"),
        to_stage=stage("won"),
        changed_at=at(3),
    )
    return r1, r2, r3


def test_report_for_two_reps_by_hand(field, django_assert_max_num_queries):
    r1, r2, _ = field
    with django_assert_max_num_queries(5):
        report = visit_effect_report(rep_ids=[r2.pk, r1.pk], period_start=START, period_end=END)
    # Visits: r1 c1 d2 yes, c1 d20 no, c2 d5 yes; r2 c3 d1 no -> 2 / 4 = 0.5.
    assert (report.n_visits, report.n_effective, report.share) == (4, 2, 0.5)
    # Baseline: c4, c7 (r1) and c5 (r2) x 2 windows = 6 pairs; (c4, w0) and (c5, w1) have an event -> 2 / 6.
    assert (report.baseline_pairs, report.baseline_pairs_with_event) == (6, 2)
    assert report.baseline_share == pytest.approx(1 / 3)
    assert report.lift == pytest.approx(0.5 - 1 / 3)  # 1/6
    assert report.per_rep == [RepVisitEffect(r1.pk, pytest.approx(2 / 3), 3), RepVisitEffect(r2.pk, 0.0, 1)]
    assert (report.period_start, report.period_end, report.horizon_days) == (START, END, 14)


def test_report_for_one_rep(field):
    r1, _, _ = field
    report = visit_effect_report(rep_ids=[r1.pk], period_start=START, period_end=END)
    # r1: 2 / 3 visits; baseline c4, c7 x 2 windows = 4 pairs, one with an event -> 1/4; lift 2/3 - 1/4 = 5/12.
    assert (report.n_visits, report.share) == (3, pytest.approx(2 / 3))
    assert (report.baseline_pairs, report.baseline_pairs_with_event, report.baseline_share) == (4, 1, 0.25)
    assert report.lift == pytest.approx(5 / 12)


def test_a_customer_visited_only_by_another_rep_is_no_baseline_customer(field):
    r1, _, r3 = field
    c9 = CustomerFactory(owner=r1)
    completed_visit(c9, 6, rep=r3)
    move(c9, 3, "discovery", "communication")  # would make (c9, window 0) a pair with an event
    report = visit_effect_report(rep_ids=[r1.pk], period_start=START, period_end=END)
    # As in the report for r1 alone: c9 was visited in the period (by r3), so the baseline is still c4, c7.
    assert (report.n_visits, report.baseline_pairs, report.baseline_pairs_with_event) == (3, 4, 1)


def test_report_for_every_rep(field, django_assert_max_num_queries):
    r1, r2, r3 = field
    with django_assert_max_num_queries(5):
        report = visit_effect_report(rep_ids=None, period_start=START, period_end=END)
    # Adds r3's effective visit to c8: 3 / 5. Baseline unchanged (c8 was visited): 2 / 6.
    assert (report.n_visits, report.n_effective, report.share) == (5, 3, 0.6)
    assert (report.baseline_pairs, report.baseline_pairs_with_event) == (6, 2)
    assert report.lift == pytest.approx(0.6 - 1 / 3)
    assert [(r.rep_id, r.n) for r in report.per_rep] == [(r1.pk, 3), (r2.pk, 1), (r3.pk, 1)]
    assert report.per_rep[2].share == 1.0


def test_undefined_figures_are_none(field):
    r1, _, _ = field
    idle = RepProfileFactory().user
    report = visit_effect_report(rep_ids=[idle.pk], period_start=START, period_end=END)
    # No visits and no customers: every ratio undefined, not 0.
    assert (report.n_visits, report.share, report.baseline_pairs, report.baseline_share, report.lift) == (
        0,
        None,
        0,
        None,
        None,
    )
    assert report.per_rep == [RepVisitEffect(idle.pk, None, 0)]
    # Ten days hold no whole 14-day window: the share is defined (c1 d2 effective, c2 d5 effective), no baseline.
    short = visit_effect_report(rep_ids=[r1.pk], period_start=START, period_end=at(10))
    assert (short.n_visits, short.share, short.baseline_pairs, short.baseline_share, short.lift) == (
        2,
        1.0,
        0,
        None,
        None,
    )
    empty = visit_effect_report(rep_ids=[], period_start=START, period_end=END)
    assert (empty.n_visits, empty.share, empty.baseline_share, empty.per_rep) == (0, None, None, [])


def test_bad_period_is_refused_by_name(db):
    with pytest.raises(ValueError, match="period_start must be timezone-aware"):
        visit_effect_report(rep_ids=None, period_start=datetime(2025, 5, 5), period_end=END)  # noqa: DTZ001
    with pytest.raises(ValueError, match=r"period_end \(.*\) must be after period_start"):
        visit_effect_report(rep_ids=None, period_start=END, period_end=START)
    with pytest.raises(TypeError, match="period_end must be a datetime, got date"):
        visit_effect_report(rep_ids=None, period_start=START, period_end=END.date())


def test_query_count_does_not_grow_with_visits(field, django_assert_max_num_queries):
    r1, r2, _ = field
    for k in range(20):
        customer = CustomerFactory(owner=r2)
        completed_visit(customer, k)
        move(customer, k + 1, "discovery", "communication")
    with django_assert_max_num_queries(5):
        report = visit_effect_report(rep_ids=[r1.pk, r2.pk], period_start=START, period_end=END)
    assert (report.n_visits, report.n_effective) == (24, 22)  # the 20 new visits are all followed a day later


def test_only_visits_and_windows_whose_14_days_are_over_by_as_of_count(field):
    r1, r2, _ = field
    # As of day 21: visits checked out by day 7 have had their 14 days (c1 d2 yes, c2 d5 yes,
    # c3 d1 no); c1 d20 has not and is left out -> 2 / 3. Only window 0 [0, 14) is over:
    # c4, c7, c5 x 1 window = 3 pairs, (c4, w0) has an event -> 1 / 3.
    report = visit_effect_report(rep_ids=[r1.pk, r2.pk], period_start=START, period_end=END, as_of=at(21))

    assert (report.n_visits, report.n_effective) == (3, 2)
    assert (report.baseline_pairs, report.baseline_pairs_with_event) == (3, 1)
    assert report.lift == pytest.approx(2 / 3 - 1 / 3)
    assert report.per_rep == [RepVisitEffect(r1.pk, 1.0, 2), RepVisitEffect(r2.pk, 0.0, 1)]
    # As of the period's start nothing is over yet: undefined, not 0.
    early = visit_effect_report(rep_ids=[r1.pk, r2.pk], period_start=START, period_end=END, as_of=at(1))
    assert (early.share, early.baseline_share, early.lift) == (None, None, None)
