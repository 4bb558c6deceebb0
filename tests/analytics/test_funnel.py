"""Spec section 3: funnel efficiency, win rate, stage conversion and pipeline, by hand and against a loop."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import funnel as fn
from analytics.funnel import FunnelStage as S
from analytics.numbers import nan_to_none, nan_to_none_list

NAN = math.nan
DAY = 86400.0
D = 1_735_689_600.0
PERIOD = {"period_start": D, "period_end": D + 30 * DAY}


def day(n: float) -> float:
    return D + n * DAY


# Four opportunities, as stays (opportunity, stage, entered, left, next), days relative to D:
#  0: Discovery [-10, 0) -> Communication [0, 4) -> Follow-up [4, 10) -> Won at 10
#  1: Discovery [1, 2) -> Communication [2, 8) -> Lost at 8
#  2: Communication [-5, 1) -> back to Discovery [1, 3) -> Communication [3, 5) -> Follow-up [5, 9) -> Lost at 9
#  3: Discovery since 20
STAYS = [
    (0, S.DISCOVERY, -10, 0, S.COMMUNICATION),
    (0, S.COMMUNICATION, 0, 4, S.FOLLOW_UP),
    (0, S.FOLLOW_UP, 4, 10, S.WON),
    (0, S.WON, 10, None, fn.STILL_IN_STAGE),
    (1, S.DISCOVERY, 1, 2, S.COMMUNICATION),
    (1, S.COMMUNICATION, 2, 8, S.LOST),
    (1, S.LOST, 8, None, fn.STILL_IN_STAGE),
    (2, S.COMMUNICATION, -5, 1, S.DISCOVERY),
    (2, S.DISCOVERY, 1, 3, S.COMMUNICATION),
    (2, S.COMMUNICATION, 3, 5, S.FOLLOW_UP),
    (2, S.FOLLOW_UP, 5, 9, S.LOST),
    (2, S.LOST, 9, None, fn.STILL_IN_STAGE),
    (3, S.DISCOVERY, 20, None, fn.STILL_IN_STAGE),
]


def pack(rows, n_opportunities):
    return fn.stage_stays(
        opportunity=[r[0] for r in rows],
        stage=[int(r[1]) for r in rows],
        entered_at=[day(r[2]) for r in rows],
        left_at=[NAN if r[3] is None else day(r[3]) for r in rows],
        next_stage=[int(r[4]) for r in rows],
        n_opportunities=n_opportunities,
    )


def test_communication_efficiency_hand_computed():
    # C = 2 (opportunities 0 and 2 left Communication forward; 1 went to Lost).
    # T = 4 days (opp 0) + 6 + 2 days (opp 2's two stays) = 12 days. E = 2 / 12.
    assert fn.communication_efficiency(pack(STAYS, 4), **PERIOD) == pytest.approx(2 / 12)


def test_follow_up_efficiency_hand_computed():
    # S = 1 (opportunity 0 won out of Follow-up); T = 6 days. R = 1 / 6.
    assert fn.follow_up_efficiency(pack(STAYS, 4), **PERIOD) == pytest.approx(1 / 6)


def test_win_rate_hand_computed():
    # Closed in the period: 0 won (day 10), 1 lost (day 8), 2 lost (day 9). 1 / 3.
    kwargs = {"stage": [S.WON, S.LOST, S.LOST, S.DISCOVERY], "closed_at": [day(10), day(8), day(9), NAN]}
    assert fn.win_rate(**kwargs, **PERIOD) == pytest.approx(1 / 3)
    # Per rep: opportunities 0 and 2 are rep 0's, 1 and 3 rep 1's; rep 2 has none.
    by_rep = fn.win_rate_by_group(**kwargs, **PERIOD, group_index=[0, 1, 0, 1], n_groups=3)
    assert nan_to_none_list(by_rep) == [0.5, 0.0, None]


def test_stage_conversion_hand_computed():
    # Discovery: 1, 2 and 3 entered it in the period; 1 and 2 moved on to Communication: 2/3.
    # Communication: 0, 1, 2 entered it (2's first entry at day -5 is before the period): 0 and 2 went on: 2/3.
    # Follow-up: 0 and 2 entered; only 0 went on (to Won): 1/2.
    assert fn.stage_conversion(pack(STAYS, 4), **PERIOD).tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 2])


def test_grouped_funnel_per_rep():
    stays = pack(STAYS, 4)
    group = {"opportunity_group": [0, 1, 0, 1], "n_groups": 3}
    # Rep 0 owns 0 and 2: E = 2 / 12; rep 1's only Communication exit went to Lost: C = T = 0, undefined.
    assert nan_to_none_list(fn.communication_efficiency_by_group(stays, **PERIOD, **group)) == [
        pytest.approx(2 / 12),
        None,
        None,
    ]
    assert nan_to_none_list(fn.follow_up_efficiency_by_group(stays, **PERIOD, **group)) == [
        pytest.approx(1 / 6),
        None,
        None,
    ]
    conversion = fn.stage_conversion_by_group(stays, **PERIOD, **group)
    assert conversion.shape == (3, 3)
    assert nan_to_none_list(conversion) == [[1.0, 1.0, 0.5], [0.5, 0.0, None], [None, None, None]]


def test_period_excludes_exits_outside_it():
    stays = pack(STAYS, 4)
    # [day 4.5, day 30): only opportunity 2 left Communication forward (day 5); its 8 days count.
    assert fn.communication_efficiency(stays, period_start=day(4.5), period_end=day(30)) == pytest.approx(1 / 8)
    # Before anything happened: undefined.
    assert math.isnan(fn.communication_efficiency(stays, period_start=day(-30), period_end=day(-20)))


def test_zero_length_stay_left_forward_converts():
    # Imported history: Discovery and Communication entered at the same second, then Won.
    stays = pack([(0, S.DISCOVERY, 0, 0, S.COMMUNICATION), (0, S.COMMUNICATION, 0, 2, S.WON)], 1)
    assert fn.stage_conversion(stays, **PERIOD).tolist()[:2] == [1.0, 1.0]
    # A zero-day stay in Communication that is left forward: C = 1, T = 0 -> undefined, not infinite.
    flash = pack([(0, S.COMMUNICATION, 1, 1, S.FOLLOW_UP)], 1)
    assert math.isnan(fn.communication_efficiency(flash, **PERIOD))


def test_order_efficiency_hand_computed():
    kwargs = {
        "ordered_at": [day(10), day(12), day(-40), day(5)],
        "fulfilled_at": [day(13), day(13.5), day(-35), NAN],
    }
    # Fulfilled in the period: 3 days and 1.5 days. O = 2 / 4.5 per day.
    assert fn.order_efficiency(**kwargs, **PERIOD) == pytest.approx(2 / 4.5)
    by_rep = fn.order_efficiency_by_group(**kwargs, **PERIOD, group_index=[0, 1, 0, 1], n_groups=2)
    assert by_rep.tolist() == pytest.approx([1 / 3, 1 / 1.5])
    assert nan_to_none(fn.order_efficiency(ordered_at=[day(1)], fulfilled_at=[NAN], **PERIOD)) is None


def test_weighted_pipeline_hand_computed():
    probability = fn.effective_probability([0.5, NAN, 0.9], [True, False, True], [0.3, 0.1, 0.6])
    assert probability.tolist() == [0.5, 0.1, 0.9]
    # Open: 10,000 * 0.5 + 5,000 * 0.1; the closed 2,000 is left out. 5,500.
    kwargs = {"amount": [10_000.0, 5_000.0, 2_000.0], "probability": probability, "is_open": [True, True, False]}
    assert fn.weighted_pipeline(**kwargs) == pytest.approx(5_500.0)
    assert fn.weighted_pipeline_by_group(**kwargs, group_index=[1, 0, 0], n_groups=3).tolist() == pytest.approx(
        [500.0, 5_000.0, 0.0]
    )
    assert fn.weighted_pipeline(amount=[], probability=[]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"next_stage": [7]}, r"^next_stage at index 0 is 7: must be a stage code in \[0, 5\) or -1"),
        ({"next_stage": [1]}, r"^next_stage at index 0 is 1: must be a different stage than `stage`$"),
        ({"stage": [5]}, r"^stage at index 0 is 5: must be an integer in \[0, 5\)$"),
        ({"opportunity": [2]}, r"^opportunity at index 0 is 2: must be an integer in \[0, 1\)$"),
        ({"entered_at": [NAN]}, r"^entered_at at index 0 is nan: must be a finite number$"),
        ({"left_at": [D - 1]}, r"^left_at at index 0 is .*: must be >= entered_at$"),
        ({"left_at": [NAN]}, r"^left_at at index 0 is nan: must be NaN exactly when next_stage is -1$"),
    ],
)
def test_stage_stays_reject(kwargs, message):
    base = {"opportunity": [0], "stage": [1], "entered_at": [D], "left_at": [D + DAY], "next_stage": [2]}
    with pytest.raises(ValueError, match=message):
        fn.stage_stays(**{**base, **kwargs}, n_opportunities=1)


def test_other_funnel_inputs_reject():
    with pytest.raises(ValueError, match=r"^fulfilled_at at index 1 is .*: must be >= ordered_at$"):
        fn.order_efficiency(ordered_at=[D, D], fulfilled_at=[D, D - 1], **PERIOD)
    with pytest.raises(ValueError, match=r"^closed_at at index 0 is inf"):
        fn.win_rate(stage=[S.WON], closed_at=[np.inf], **PERIOD)
    with pytest.raises(ValueError, match=r"^probability at index 1 is 1\.5: must be a fraction in \[0, 1\]$"):
        fn.weighted_pipeline(amount=[1.0, 1.0], probability=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"^amount at index 0 is -5\.0"):
        fn.weighted_pipeline(amount=[-5.0], probability=[0.5])
    with pytest.raises(ValueError, match=r"^manual_probability at index 1 is nan: must be a fraction"):
        fn.effective_probability([0.2, NAN], [True, True], [0.1, 0.1])
    with pytest.raises(ValueError, match=r"^stage_default at index 0 is -0\.1"):
        fn.effective_probability([NAN], [False], [-0.1])
    with pytest.raises(ValueError, match=r"must have bounds that are not NaN with start <= end"):
        fn.win_rate(stage=[S.WON], closed_at=[D], period_start=D + 1, period_end=D)


# --- against literal loops over generated histories ------------------------------------------


@st.composite
def histories(draw):
    """Opportunities as stage sequences with strictly increasing times (seconds), around the period."""
    n = draw(st.integers(0, 8))
    rows, closed, current = [], [], []
    for opp in range(n):
        stage = draw(st.sampled_from([0, 1, 2]))
        at = D + draw(st.integers(-20, 20)) * DAY
        moves = draw(st.integers(0, 5))
        for _ in range(moves):
            following = draw(st.sampled_from([s for s in range(5) if s != stage]))
            left = at + draw(st.integers(1, 10 * 24)) * 3600.0
            rows.append((opp, stage, at, left, following))
            stage, at = following, left
        rows.append((opp, stage, at, NAN, -1))
        current.append(stage)
        closed.append(at if stage >= 3 else NAN)
    return n, rows, current, closed


def to_stays(n, rows):
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 5
    return fn.stage_stays(
        opportunity=np.array(columns[0], dtype=int),
        stage=np.array(columns[1], dtype=int),
        entered_at=np.array(columns[2], dtype=float),
        left_at=np.array(columns[3], dtype=float),
        next_stage=np.array(columns[4], dtype=int),
        n_opportunities=n,
    )


START, END = D, D + 15 * DAY


def ref_efficiency(rows, stage, exit_ok):
    counted = {o for o, s, _, left, nxt in rows if s == stage and exit_ok(nxt) and START <= left < END}
    days = sum((left - at) / DAY for o, s, at, left, _ in rows if o in counted and s == stage and left < END)
    return len(counted) / days if days else None


def ref_conversion(rows, stage):
    entered = converted = 0
    by_opp = {}
    for row in rows:
        by_opp.setdefault(row[0], []).append(row)
    for seq in by_opp.values():
        firsts = [i for i, r in enumerate(seq) if r[1] == stage and START <= r[2] < END]
        if firsts:
            entered += 1
            converted += any(stage < r[1] <= 3 for r in seq[firsts[0] + 1 :])
    return converted / entered if entered else None


def forward(stage):
    return lambda nxt: stage < nxt <= 3


@settings(deadline=None)
@given(histories())
def test_funnel_matches_reference(history):
    n, rows, current, closed = history
    stays = to_stays(n, rows)
    period = {"period_start": START, "period_end": END}
    expected_e = ref_efficiency(rows, 1, forward(1))
    expected_r = ref_efficiency(rows, 2, lambda nxt: nxt == 3)
    assert nan_to_none(fn.communication_efficiency(stays, **period)) == (
        None if expected_e is None else pytest.approx(expected_e, rel=1e-12)
    )
    assert nan_to_none(fn.follow_up_efficiency(stays, **period)) == (
        None if expected_r is None else pytest.approx(expected_r, rel=1e-12)
    )
    expected_conversion = [ref_conversion(rows, s) for s in (0, 1, 2)]
    assert nan_to_none_list(fn.stage_conversion(stays, **period)) == [
        None if e is None else pytest.approx(e, rel=1e-12) for e in expected_conversion
    ]
    won = sum(1 for s, c in zip(current, closed, strict=True) if s == 3 and START <= c < END)
    lost = sum(1 for s, c in zip(current, closed, strict=True) if s == 4 and START <= c < END)
    got = fn.win_rate(stage=np.array(current, dtype=int), closed_at=np.array(closed, dtype=float), **period)
    assert nan_to_none(got) == (None if won + lost == 0 else pytest.approx(won / (won + lost)))


@settings(deadline=None)
@given(histories(), st.data())
def test_grouped_funnel_matches_per_group_reference(history, data):
    n, rows, _, _ = history
    groups = data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    stays = to_stays(n, rows)
    period = {"period_start": START, "period_end": END, "opportunity_group": groups, "n_groups": 3}
    got_e = fn.communication_efficiency_by_group(stays, **period)
    got_c = fn.stage_conversion_by_group(stays, **period)
    for g in range(3):
        mine = [r for r in rows if groups[r[0]] == g]
        expected_e = ref_efficiency(mine, 1, forward(1))
        assert nan_to_none(got_e[g]) == (None if expected_e is None else pytest.approx(expected_e, rel=1e-12))
        expected_c = [ref_conversion(mine, s) for s in (0, 1, 2)]
        assert nan_to_none_list(got_c[g]) == [None if e is None else pytest.approx(e, rel=1e-12) for e in expected_c]


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1e12),
            st.floats(min_value=0, max_value=1),
            st.booleans(),
            st.integers(0, 2),
        ),
        max_size=30,
    )
)
def test_weighted_pipeline_matches_reference(opportunities):
    amount = [o[0] for o in opportunities]
    probability = [o[1] for o in opportunities]
    is_open = [o[2] for o in opportunities]
    group = [o[3] for o in opportunities]
    expected = sum(a * p for a, p, is_o in zip(amount, probability, is_open, strict=True) if is_o)
    assert fn.weighted_pipeline(amount=amount, probability=probability, is_open=is_open) == pytest.approx(
        expected, rel=1e-12
    )
    got = fn.weighted_pipeline_by_group(
        amount=amount, probability=probability, is_open=is_open, group_index=group, n_groups=3
    )
    for g in range(3):
        expected_g = sum(o[0] * o[1] for o in opportunities if o[2] and o[3] == g)
        assert got[g] == pytest.approx(expected_g, rel=1e-12)


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-40, max_value=40),
            st.one_of(st.just(NAN), st.floats(min_value=0, max_value=20)),
        ),
        max_size=30,
    )
)
def test_order_efficiency_matches_reference(orders):
    ordered = [D + o[0] * DAY for o in orders]
    fulfilled = [D + (o[0] + o[1]) * DAY for o in orders]
    done = [(f - c) / DAY for c, f in zip(ordered, fulfilled, strict=True) if START <= f < END]
    got = fn.order_efficiency(ordered_at=ordered, fulfilled_at=fulfilled, period_start=START, period_end=END)
    total = sum(done)
    assert nan_to_none(got) == (None if total == 0 else pytest.approx(len(done) / total, rel=1e-12))
