"""Filling working days in descending priority around lunch and fixed visits."""

import numpy as np

from visits.planner import DayWindow, earliest_fit, plan_days

DAY = DayWindow(start=8 * 60 + 30, end=17 * 60 + 30, busy=((12 * 60, 13 * 60),))


def zero_travel(n):
    return np.zeros((n + 1, n + 1))


def as_rows(stops):
    return [(s.candidate, s.day, s.start_minute) for s in stops]


def test_free_intervals_skip_lunch_and_fixed_visits():
    day = DayWindow(start=510, end=1050, busy=((720, 780), (600, 660), (1000, 1100)))
    assert day.free_intervals() == [(510, 600), (660, 720), (780, 1000)]


def test_starts_land_on_the_five_minute_grid():
    assert earliest_fit([(510, 720)], 537.3, 30) == 540
    assert earliest_fit([(512, 559)], 500, 45) is None  # 515 + 45 > 559
    assert earliest_fit([(512, 600)], 500, 45) == 515


def test_earliest_fit_moves_past_a_busy_block():
    free = [(510, 720), (780, 1050)]
    assert earliest_fit(free, 630, 120) == 780  # 10:30 + 2 h would cross lunch
    assert earliest_fit(free, 600, 120) == 600
    assert earliest_fit(free, 1000, 120) is None


def test_two_hour_visits_around_lunch_spill_to_the_next_day():
    # 480 free minutes, but lunch splits them 210 + 270: three 2-hour visits fit on day 1.
    stops = plan_days(
        days=[DAY, DAY],
        priority=np.array([4.0, 3.0, 2.0, 1.0]),
        minutes=np.full(4, 120.0),
        travel_minutes=zero_travel(4),
    )
    rows = as_rows(stops)
    assert [r for r in rows if r[1] == 0] == [(0, 0, 510), (1, 0, 780), (2, 0, 900)]
    assert rows[-1] == (3, 1, 510)


def test_highest_priority_first_and_each_candidate_once():
    # Room for two 240-minute visits: candidate 1 (P=9) and 2 (P=7) beat candidate 0 (P=5).
    stops = plan_days(
        days=[DayWindow(0, 480)],
        priority=np.array([5.0, 9.0, 7.0]),
        minutes=np.full(3, 240.0),
        travel_minutes=zero_travel(3),
    )
    assert sorted(s.candidate for s in stops) == [1, 2]


def test_travel_time_is_booked_between_stops():
    # Base -> A 30 min, A -> B 10 min; visits 60 min; day from 9:00.
    travel = np.array([[0, 30, 35], [30, 0, 10], [35, 10, 0]], dtype=float)
    stops = plan_days(
        days=[DayWindow(540, 1020)], priority=np.array([2.0, 1.0]), minutes=np.full(2, 60.0), travel_minutes=travel
    )
    assert as_rows(stops) == [(0, 0, 570), (1, 0, 640)]
    assert [s.travel_minutes for s in stops] == [30, 10]


def test_route_order_not_priority_order_within_a_day():
    # Stops on a line east of the base at 10, 30, 20 minutes; the day visits them 10, 20, 30.
    position = np.array([0, 10, 30, 20], dtype=float)
    travel = np.abs(position[:, None] - position[None, :])
    stops = plan_days(
        days=[DayWindow(480, 1000)], priority=np.array([1.0, 3.0, 2.0]), minutes=np.full(3, 30.0), travel_minutes=travel
    )
    assert [s.candidate for s in stops] == [0, 2, 1]


def test_a_fixed_visit_blocks_its_time():
    day = DayWindow(480, 720, busy=((540, 600),))
    stops = plan_days(
        days=[day], priority=np.array([2.0, 1.0]), minutes=np.full(2, 60.0), travel_minutes=zero_travel(2)
    )
    assert as_rows(stops) == [(0, 0, 480), (1, 0, 600)]


def test_plan_is_deterministic_with_ties():
    rng = np.random.default_rng(3)
    travel = rng.uniform(5, 40, size=(21, 21))
    travel = (travel + travel.T) / 2
    np.fill_diagonal(travel, 0)
    args = {"days": [DAY] * 5, "priority": np.ones(20), "minutes": np.full(20, 45.0), "travel_minutes": travel}
    assert as_rows(plan_days(**args)) == as_rows(plan_days(**args))


def test_nothing_to_plan():
    assert plan_days(days=[DAY], priority=np.array([]), minutes=np.array([]), travel_minutes=np.zeros((1, 1))) == []
