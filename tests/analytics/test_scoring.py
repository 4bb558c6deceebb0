"""Spec section 1 kernels against hand-computed numbers and a literal scalar reference."""

import math
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from analytics import scoring
from analytics.numbers import nan_to_none_list

W = (0.5, 0.3, 0.2)
R = 6371.0088

# Non-negative floats from 0 and subnormals up to huge, so overflow paths are exercised too.
nonneg = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=1e300), st.floats(min_value=0.0, max_value=10.0))
positive = st.one_of(
    st.just(0.25), st.floats(min_value=5e-324, max_value=1e300), st.floats(min_value=0.25, max_value=50)
)
weights = st.tuples(*(st.floats(min_value=0.0, max_value=10.0),) * 3)


def columns(count: int, elements: st.SearchStrategy, max_side: int = 40):
    """`count` float64 arrays of one shared length (0 and 1 included)."""
    return st.integers(min_value=0, max_value=max_side).flatmap(
        lambda n: st.tuples(*(hnp.arrays(np.float64, n, elements=elements) for _ in range(count)))
    )


def floats(*arrays):
    """Python floats, so the reference is plain-Python arithmetic (no NumPy scalars)."""
    return [np.asarray(a, dtype=np.float64).tolist() for a in arrays]


def ref_priority(t1, t2, t3, t4, w):
    return (w[0] * t1 + w[1] * t2 + w[2] * t3) / t4


def ref_haversine(lat1, lon1, lat2, lon2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * R * math.asin(math.sqrt(min(a, 1.0)))


# --- P and T: hand-computed ---------------------------------------------------------


def test_priority_and_time_hand_computed():
    # P = (0.5*1 + 0.3*3 + 0.2*0.5) / 0.75 = (0.5 + 0.9 + 0.1) / 0.75 = 2.0
    p = scoring.visit_priority([1.0, 1.0, 1.0], [3.0, 3.0, 3.0], [0.5, 0.5, 0.5], [0.75, 0.75, 0.75], W)
    assert p.tolist() == pytest.approx([2.0, 2.0, 2.0], abs=1e-12)
    # Tiers A, B, C: T = 60 + 2*20 = 100, 45 + 2*15 = 75, 30 + 2*10 = 50
    t5 = scoring.per_tier([0, 1, 2], (60.0, 45.0, 30.0))
    t6 = scoring.per_tier([0, 1, 2], (20.0, 15.0, 10.0))
    t = scoring.scheduled_time(p, t5, t6)
    assert t.tolist() == pytest.approx([100.0, 75.0, 50.0], abs=1e-9)
    assert scoring.booked_minutes(t, 120).tolist() == [100.0, 75.0, 50.0]


def test_priority_second_hand_case():
    # Never visited (T2 = 3), no value, no pipeline, 60 km at 40 km/h: T4 = 0.25 + 1.5 = 1.75.
    t4 = scoring.effort_hours([60.0], 40.0)
    assert t4.tolist() == [1.75]
    p = scoring.visit_priority([0.0], [3.0], [0.0], t4, W)  # 0.9 / 1.75
    assert p[0] == pytest.approx(0.9 / 1.75)
    t = scoring.scheduled_time(p, 30.0, 10.0)  # tier C: 30 + 10 * 0.514285... = 35.142857...
    assert t[0] == pytest.approx(35.142857142857146)
    assert scoring.booked_minutes(t, 120).tolist() == [40.0]


def test_scalars_and_broadcasting():
    assert float(scoring.visit_priority(1, 3, 0.5, 0.75, W)) == pytest.approx(2.0)
    p = scoring.visit_priority([[1.0], [0.0]], [3.0, 0.0], 0.0, 2.0, (1.0, 1.0, 1.0))
    assert p.shape == (2, 2)
    assert p.tolist() == [[2.0, 0.5], [1.5, 0.0]]
    assert scoring.scheduled_time(p, 10.0, [1.0, 2.0]).tolist() == [[12.0, 11.0], [11.5, 10.0]]


def test_empty_in_empty_out():
    empty = np.empty(0)
    assert scoring.visit_priority(empty, empty, empty, empty, W).shape == (0,)
    assert scoring.scheduled_time(empty, empty, empty).shape == (0,)
    assert scoring.value_feature(empty).shape == (0,)
    assert scoring.pipeline_feature([]).shape == (0,)
    assert scoring.urgency_feature(empty, empty).shape == (0,)
    assert scoring.haversine_km(empty, empty, empty, empty).shape == (0,)
    assert scoring.travel_km(empty, empty, empty, empty, 20.0).shape == (0,)
    assert scoring.effort_hours(empty, 40.0).shape == (0,)
    assert scoring.per_tier(np.empty(0, dtype=int), (60, 45, 30)).shape == (0,)
    assert scoring.booked_minutes(empty, 120).shape == (0,)


# --- P and T: against the scalar reference ---------------------------------------------


@settings(deadline=None)
@given(columns(3, nonneg), weights, st.data())
def test_visit_priority_matches_reference(t123, w, data):
    t1, t2, t3 = t123
    t4 = data.draw(hnp.arrays(np.float64, t1.shape, elements=positive))
    expected = [ref_priority(a, b, c, d, w) for a, b, c, d in zip(*floats(t1, t2, t3, t4), strict=True)]
    bad = [i for i, value in enumerate(expected) if not math.isfinite(value)]
    if bad:
        with pytest.raises(ValueError, match=rf"^P at index {bad[0]} is "):
            scoring.visit_priority(t1, t2, t3, t4, w)
    else:
        # Same operations in the same order: identical to the last bit.
        assert scoring.visit_priority(t1, t2, t3, t4, w).tolist() == expected


@settings(deadline=None)
@given(columns(3, nonneg))
def test_scheduled_time_matches_reference(arrays):
    p, t5, t6 = arrays
    expected = [a + b * c for a, b, c in zip(*floats(t5, p, t6), strict=True)]
    bad = [i for i, value in enumerate(expected) if not math.isfinite(value)]
    if bad:
        with pytest.raises(ValueError, match=rf"^T at index {bad[0]} is inf"):
            scoring.scheduled_time(p, t5, t6)
    else:
        assert scoring.scheduled_time(p, t5, t6).tolist() == expected


def test_blocks_large_input_matches_reference():
    # Crosses several 65,536-element blocks, with a ragged last block.
    rng = np.random.default_rng(7)
    n = 200_003
    t1, t2, t3 = rng.random(n), 3 * rng.random(n), rng.random(n)
    t4 = 0.25 + 2 * rng.random(n)
    p = scoring.visit_priority(t1, t2, t3, t4, W)
    np.testing.assert_array_equal(p, (0.5 * t1 + 0.3 * t2 + 0.2 * t3) / t4)
    t = scoring.scheduled_time(p, 45.0, t4)
    np.testing.assert_array_equal(t, p * t4 + 45.0)


# --- P and T: errors name the first offending index and value ------------------------------


@pytest.mark.parametrize(
    ("arg", "value", "message"),
    [
        ("t1", -1.0, r"^t1 at index 2 is -1\.0: must be a finite number >= 0$"),
        ("t2", np.nan, r"^t2 at index 2 is nan: must be a finite number >= 0$"),
        ("t3", np.inf, r"^t3 at index 2 is inf: must be a finite number >= 0$"),
        ("t4", 0.0, r"^t4 at index 2 is 0\.0: must be a finite number > 0$"),
        ("t4", -0.5, r"^t4 at index 2 is -0\.5: must be a finite number > 0$"),
        ("t4", -0.0, r"^t4 at index 2 is -0\.0: must be a finite number > 0$"),
        ("t4", np.inf, r"^t4 at index 2 is inf: must be a finite number > 0$"),
    ],
)
def test_visit_priority_rejects(arg, value, message):
    args = {name: np.ones(4) for name in ("t1", "t2", "t3", "t4")}
    args[arg][2] = value
    with pytest.raises(ValueError, match=message):
        scoring.visit_priority(args["t1"], args["t2"], args["t3"], args["t4"], W)


def test_error_names_the_lowest_index_across_arguments():
    t1, t2, t3, t4 = np.ones(10), np.ones(10), np.ones(10), np.ones(10)
    t1[7] = -2.0
    t4[4] = 0.0  # caught through P (inf), still the first offending index
    t3[4] = np.nan  # same index, earlier argument: t3 wins the tie
    with pytest.raises(ValueError, match=r"^t3 at index 4 is nan"):
        scoring.visit_priority(t1, t2, t3, t4, W)
    t3[4] = 1.0
    with pytest.raises(ValueError, match=r"^t4 at index 4 is 0\.0"):
        scoring.visit_priority(t1, t2, t3, t4, W)


def test_error_index_in_a_later_block():
    n = 150_000
    t1 = np.ones(n)
    t1[131_073] = -3.5
    with pytest.raises(ValueError, match=r"^t1 at index 131073 is -3\.5"):
        scoring.visit_priority(t1, 1.0, 1.0, 1.0, W)


def test_input_error_wins_over_an_earlier_overflow():
    # Validation comes before computing: NaN in a later block is reported, not the overflow at 3.
    n = 100_000
    t1 = np.zeros(n)
    t1[3] = 1e308
    t4 = np.ones(n)
    t4[3] = 1e-10
    t2 = np.zeros(n)
    t2[90_000] = np.nan
    with pytest.raises(ValueError, match=r"^t2 at index 90000 is nan"):
        scoring.visit_priority(t1, t2, 0.0, t4, W)
    t2[90_000] = 0.0
    with pytest.raises(ValueError, match=r"^P at index 3 is inf: must be finite"):
        scoring.visit_priority(t1, t2, 0.0, t4, W)


def test_error_index_of_broadcast_inputs():
    # A scalar T4 of 0 broadcast over a 2-D input: the first index of the broadcast shape.
    with pytest.raises(ValueError, match=r"^t4 at index \(0, 0\) is 0\.0"):
        scoring.visit_priority(np.ones((2, 3)), 1.0, 1.0, 0.0, W)
    t2 = np.ones((2, 3))
    t2[1, 2] = np.inf
    with pytest.raises(ValueError, match=r"^t2 at index \(1, 2\) is inf"):
        scoring.visit_priority(1.0, t2, 1.0, 1.0, W)
    with pytest.raises(ValueError, match=r"^t1 is nan: must be"):
        scoring.visit_priority(np.nan, 1.0, 1.0, 1.0, W)


def test_negative_zero_is_a_valid_zero():
    p = scoring.visit_priority([-0.0, 1.0], [-0.0, 0.0], [0.0, -0.0], [1.0, 2.0], W)
    assert p.tolist() == [0.0, 0.25]
    assert scoring.scheduled_time(p, [-0.0, 1.0], 5.0).tolist() == [0.0, 2.25]


@pytest.mark.parametrize(
    ("w", "message"),
    [
        ((0.5, -0.3, 0.2), r"^weights at index 1 is -0\.3: must be a finite number >= 0$"),
        ((0.5, 0.3, np.nan), r"^weights at index 2 is nan"),
        ((0.5, 0.3), r"^weights must be 3 numbers"),
    ],
)
def test_visit_priority_rejects_weights(w, message):
    with pytest.raises(ValueError, match=message):
        scoring.visit_priority([1.0], [1.0], [1.0], [1.0], w)


@pytest.mark.parametrize(
    ("arg", "value", "message"),
    [
        ("p", np.nan, r"^p at index 1 is nan: must be a finite number >= 0$"),
        ("p", -1.0, r"^p at index 1 is -1\.0"),
        ("t5", -45.0, r"^t5 at index 1 is -45\.0"),
        ("t6", np.inf, r"^t6 at index 1 is inf"),
    ],
)
def test_scheduled_time_rejects(arg, value, message):
    args = {name: np.ones(3) for name in ("p", "t5", "t6")}
    args[arg][1] = value
    with pytest.raises(ValueError, match=message):
        scoring.scheduled_time(args["p"], args["t5"], args["t6"])


# --- T1 / T3 ---------------------------------------------------------------------------


def test_value_feature_hand_computed():
    # log1p(e - 1) = 1 and log1p(e^2 - 1) = 2: T1 = [0, 1/2, 1]
    t1 = scoring.value_feature([0.0, math.e - 1, math.e**2 - 1])
    assert t1.tolist() == pytest.approx([0.0, 0.5, 1.0], abs=1e-15)
    assert scoring.pipeline_feature([11_000.0, 4_800.0, 0.0]).tolist() == pytest.approx(
        [1.0, math.log1p(4_800) / math.log1p(11_000), 0.0]
    )


def test_log_features_all_zero_is_zero_not_nan():
    assert scoring.value_feature([0.0, 0.0]).tolist() == [0.0, 0.0]
    assert scoring.pipeline_feature([0.0]).tolist() == [0.0]


@settings(deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 40), elements=nonneg))
def test_log_features_match_reference(x):
    (values,) = floats(x)
    top = max(values, default=0.0)
    expected = [0.0 if top == 0 else math.log1p(v) / math.log1p(top) for v in values]
    for kernel in (scoring.value_feature, scoring.pipeline_feature):
        got = kernel(x)
        np.testing.assert_allclose(got, expected, rtol=1e-13, atol=0)
        assert ((got >= 0) & (got <= 1)).all()


@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
def test_log_features_reject(bad):
    with pytest.raises(ValueError, match=rf"^annual_value at index 1 is {bad!r}"):
        scoring.value_feature([1.0, bad, 2.0])
    with pytest.raises(ValueError, match=rf"^weighted_open_pipeline at index 1 is {bad!r}"):
        scoring.pipeline_feature([1.0, bad])


# --- T2 ---------------------------------------------------------------------------------


def test_urgency_hand_computed():
    # 42/30 = 1.4; 3.25/14 = 0.232142...; 30/30 = 1; never visited = 3; 100/10 capped at 3; 0 days = 0
    t2 = scoring.urgency_feature([42.0, 3.25, 30.0, np.inf, 100.0, 0.0], [30.0, 14.0, 30.0, 30.0, 10.0, 7.0])
    assert t2.tolist() == pytest.approx([1.4, 3.25 / 14, 1.0, 3.0, 3.0, 0.0])


@settings(deadline=None)
@given(columns(2, st.floats(min_value=0.0, max_value=1e300)), st.data())
def test_urgency_matches_reference(arrays, data):
    days, cadence = arrays
    days = np.where(data.draw(hnp.arrays(bool, days.shape)), np.inf, days)
    cadence = np.where(cadence > 0, cadence, 1.0)
    expected = [min(d / c, 3.0) for d, c in zip(*floats(days, cadence), strict=True)]
    assert scoring.urgency_feature(days, cadence).tolist() == expected


@pytest.mark.parametrize(
    ("days", "cadence", "message"),
    [
        ([1.0, -0.5], [7.0, 7.0], r"^days_since_last_visit at index 1 is -0\.5"),
        ([1.0, np.nan], [7.0, 7.0], r"^days_since_last_visit at index 1 is nan"),
        ([1.0, 2.0], [7.0, 0.0], r"^cadence_days at index 1 is 0\.0: must be a finite number > 0"),
        ([1.0, 2.0], [np.inf, 7.0], r"^cadence_days at index 0 is inf"),
    ],
)
def test_urgency_rejects(days, cadence, message):
    with pytest.raises(ValueError, match=message):
        scoring.urgency_feature(days, cadence)


# --- T4 ----------------------------------------------------------------------------------


def test_haversine_hand_computed():
    # A quarter of a great circle is pi/2 * R; half of it pi * R; the same point 0.
    d = scoring.haversine_km([0.0, 0.0, 48.8566], [0.0, 0.0, 2.3522], [0.0, 0.0, 48.8566], [90.0, 180.0, 2.3522])
    assert d.tolist() == pytest.approx([math.pi / 2 * R, math.pi * R, 0.0])
    assert math.pi / 2 * R == pytest.approx(10007.557221, abs=1e-6)
    # Paris to Lille, about 204 km.
    assert float(scoring.haversine_km(48.8566, 2.3522, 50.6292, 3.0573)) == pytest.approx(203.509451, abs=1e-5)


lat = st.floats(min_value=-90.0, max_value=90.0)
lon = st.floats(min_value=-180.0, max_value=180.0)


@settings(deadline=None)
@given(st.lists(st.tuples(lat, lon, lat, lon), max_size=30))
def test_haversine_matches_reference(points):
    a = np.array(points, dtype=np.float64).reshape(-1, 4)
    got = scoring.haversine_km(a[:, 0], a[:, 1], a[:, 2], a[:, 3])
    expected = [ref_haversine(*row) for row in points]
    # Near-antipodal points are ill-conditioned (asin near 1): allow 1 m there.
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-3)
    assert ((got >= 0) & (got <= math.pi * R + 1e-9)).all()


@settings(deadline=None)
@given(st.lists(st.tuples(*(st.one_of(st.just(math.nan), c) for c in (lat, lon, lat, lon))), max_size=30))
def test_travel_km_matches_reference(points):
    a = np.array(points, dtype=np.float64).reshape(-1, 4)
    expected = [20.0 if any(math.isnan(v) for v in row) else ref_haversine(*row) for row in points]
    np.testing.assert_allclose(
        scoring.travel_km(a[:, 0], a[:, 1], a[:, 2], a[:, 3], 20.0), expected, rtol=1e-9, atol=1e-3
    )


def test_travel_km_default_where_coordinates_are_missing():
    km = scoring.travel_km(48.8566, 2.3522, [48.8049, np.nan, 50.6292], [2.1204, 2.0, np.nan], 20.0)
    assert km[1:].tolist() == [20.0, 20.0]
    assert km[0] == pytest.approx(ref_haversine(48.8566, 2.3522, 48.8049, 2.1204))
    # A rep without a base: the default for everyone.
    assert scoring.travel_km(np.nan, np.nan, [1.0, 2.0], [3.0, 4.0], 12.5).tolist() == [12.5, 12.5]


@pytest.mark.parametrize(
    ("coords", "message"),
    [
        ((0.0, 0.0, [1.0, np.nan], [0.0, 0.0]), r"^lat2 at index 1 is nan: must be in degrees within \[-90, 90\]"),
        ((0.0, 0.0, [1.0, 91.0], [0.0, 0.0]), r"^lat2 at index 1 is 91\.0"),
        ((0.0, [0.0, -np.inf], 1.0, 1.0), r"^lon1 at index 1 is -inf: must be in degrees within \[-180, 180\]"),
    ],
)
def test_haversine_rejects(coords, message):
    with pytest.raises(ValueError, match=message):
        scoring.haversine_km(*coords)


def test_travel_km_rejects_infinite_and_out_of_range():
    with pytest.raises(ValueError, match=r"^lon at index 1 is inf"):
        scoring.travel_km(0.0, 0.0, [0.0, 0.0], [0.0, np.inf], 20.0)
    with pytest.raises(ValueError, match=r"^base_lat at index 0 is -95\.0"):
        scoring.travel_km(-95.0, 0.0, [0.0], [0.0], 20.0)
    with pytest.raises(ValueError, match=r"^default_km is -1\.0"):
        scoring.travel_km(0.0, 0.0, [0.0], [0.0], -1.0)


def test_effort_hours():
    # 0.25 + km / 40: 0 km -> 0.25 h, 20 km (the default) -> 0.75 h, 203.5 km -> 5.3377...
    assert scoring.effort_hours([0.0, 20.0, 203.5], 40.0).tolist() == pytest.approx([0.25, 0.75, 5.3375])
    with pytest.raises(ValueError, match=r"^travel_km at index 0 is -1\.0"):
        scoring.effort_hours([-1.0], 40.0)
    with pytest.raises(ValueError, match=r"^speed_kmh is 0\.0: must be a finite number > 0"):
        scoring.effort_hours([1.0], 0.0)


@settings(deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 30), elements=nonneg), st.floats(min_value=1e-3, max_value=1e3))
def test_effort_hours_matches_reference(km, speed):
    expected = [0.25 + k / speed for k in km.tolist()]
    if all(math.isfinite(v) for v in expected):
        assert scoring.effort_hours(km, speed).tolist() == expected
    else:
        with pytest.raises(ValueError, match=r"^T4 at index"):
            scoring.effort_hours(km, speed)


# --- T5, T6 and booking ----------------------------------------------------------------------


def test_per_tier():
    assert scoring.per_tier([2, 0, 1, 0], (60, 45, 30)).tolist() == [30.0, 60.0, 45.0, 60.0]
    assert scoring.per_tier(np.array([1.0]), (20.0, 15.0, 10.0)).tolist() == [15.0]
    with pytest.raises(ValueError, match=r"^tier_index at index 1 is 3: must be an integer in \[0, 3\)"):
        scoring.per_tier([0, 3], (60, 45, 30))
    with pytest.raises(ValueError, match=r"^tier_index at index 0 is -1"):
        scoring.per_tier([-1], (60, 45, 30))
    with pytest.raises(ValueError, match=r"^values at index 2 is -30\.0"):
        scoring.per_tier([0], (60, 45, -30))


def test_booked_minutes_hand_computed():
    # ceil(T/5)*5 clipped to [15, 120]
    t = [0.0, 14.0, 15.0, 15.1, 99.99, 100.0, 100.0001, 119.0, 121.0, 500.0]
    assert scoring.booked_minutes(t, 120).tolist() == [15, 15, 15, 20, 100, 100, 105, 120, 120, 120]
    assert scoring.booked_minutes([200.0], 90).tolist() == [90.0]
    with pytest.raises(ValueError, match=r"^t at index 1 is nan"):
        scoring.booked_minutes([1.0, np.nan], 120)
    with pytest.raises(ValueError, match=r"^max_visit_minutes is 10\.0: must be a finite number >= 15"):
        scoring.booked_minutes([1.0], 10)


@settings(deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 40), elements=st.floats(min_value=0, max_value=1e6)))
def test_booked_minutes_matches_reference(t):
    expected = [min(max(math.ceil(v / 5) * 5, 15), 120) for v in t.tolist()]
    assert scoring.booked_minutes(t, 120).tolist() == expected


def test_scores_leave_for_json_without_nan():
    p = scoring.visit_priority([1.0], [3.0], [0.5], [0.75], W)
    assert nan_to_none_list(p) == [pytest.approx(2.0)]


def test_concurrent_calls_do_not_share_scratch():
    # Each thread has its own block scratch buffer: results stay exact under concurrency.
    rng = np.random.default_rng(11)
    cases = [(rng.random(150_000), 0.25 + rng.random(150_000)) for _ in range(4)]

    def run(case):
        t1, t4 = case
        return scoring.visit_priority(t1, t1, t1, t4, W)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, cases))
    for (t1, t4), p in zip(cases, results, strict=True):
        np.testing.assert_array_equal(p, (0.5 * t1 + 0.3 * t1 + 0.2 * t1) / t4)


# --- P and T in one pass, on several threads: the same numbers and errors on every path ----------

# Past 4 blocks of 65,536 the kernels share the blocks between threads; ragged last block.
LARGE = 300_003
# Valid values, the edges, and every kind of invalid input, so errors and false alarms
# (-0.0 is valid but fails the one-pass check) are drawn often.
edge = st.sampled_from([0.0, -0.0, 0.25, 1.0, 5e-324, 1e-300, 1e300, -1.0, -5e-324, math.nan, math.inf, -math.inf])
mostly_valid = st.one_of(edge, st.floats(min_value=0.0, max_value=100.0))


def outcome(fn):
    """The arrays `fn` returns, or the message of the ValueError it raises."""
    try:
        result = fn()
    except ValueError as error:
        return str(error)
    return tuple(result) if isinstance(result, tuple) else (result,)


def assert_same_outcome(got, expected):
    if isinstance(expected, str):
        assert got == expected
        return
    assert not isinstance(got, str), got
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert (g.shape, g.dtype) == (e.shape, e.dtype)
        assert g.tobytes() == e.tobytes()  # to the last bit, -0.0 included


def two_calls(t1, t2, t3, t4, t5, t6, w):
    p = scoring.visit_priority(t1, t2, t3, t4, w)
    return p, scoring.scheduled_time(p, t5, t6)


def large_inputs(seed=3):
    rng = np.random.default_rng(seed)
    return [rng.random(LARGE), 3 * rng.random(LARGE), rng.random(LARGE), 0.25 + 2 * rng.random(LARGE)] + [
        rng.choice([60.0, 45.0, 30.0], LARGE),
        rng.choice([20.0, 15.0, 10.0], LARGE),
    ]


def test_combined_hand_computed():
    # As in test_priority_and_time_hand_computed: P = 2.0; T = 60 + 2*20, 45 + 2*15, 30 + 2*10.
    p, t = scoring.priority_and_time(1.0, [3.0, 3.0, 3.0], 0.5, 0.75, [60.0, 45.0, 30.0], [20.0, 15.0, 10.0], W)
    assert p.tolist() == pytest.approx([2.0, 2.0, 2.0], abs=1e-12)
    assert t.tolist() == pytest.approx([100.0, 75.0, 50.0], abs=1e-9)


@settings(deadline=None, max_examples=300)
@given(
    st.integers(min_value=0, max_value=12).flatmap(
        lambda n: st.tuples(*(st.one_of(mostly_valid, hnp.arrays(np.float64, n, elements=mostly_valid)),) * 6)
    ),
    weights,
)
def test_combined_same_results_and_errors_as_two_calls(args, w):
    expected = outcome(lambda: two_calls(*args, w))
    assert_same_outcome(outcome(lambda: scoring.priority_and_time(*args, w)), expected)
    with scoring.kernel_threads(1):
        assert_same_outcome(outcome(lambda: two_calls(*args, w)), expected)


def test_combined_keeps_the_two_call_shapes():
    # T5/T6 broadcast P no larger in scheduled_time than in visit_priority's own result.
    p, t = scoring.priority_and_time(1.0, 3.0, 0.5, 0.75, [60.0, 45.0], 20.0, W)
    assert (p.shape, t.shape) == ((), (2,))
    assert float(p) == pytest.approx(2.0)
    assert t.tolist() == pytest.approx([100.0, 85.0])
    p, t = scoring.priority_and_time([[1.0], [0.0]], [3.0, 0.0], 0.0, 2.0, 10.0, [1.0, 2.0], (1.0, 1.0, 1.0))
    assert p.tolist() == [[2.0, 0.5], [1.5, 0.0]]
    assert t.tolist() == [[12.0, 11.0], [11.5, 10.0]]


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_threads_and_blocks_give_the_formula_to_the_last_bit(threads):
    t1, t2, t3, t4, t5, t6 = large_inputs()
    expected_p = (0.5 * t1 + 0.3 * t2 + 0.2 * t3) / t4
    expected_t = t5 + expected_p * t6
    with scoring.kernel_threads(threads):
        p, t = scoring.priority_and_time(t1, t2, t3, t4, t5, t6, W)
        p2 = scoring.visit_priority(t1, t2, t3, t4, W)
        t2_ = scoring.scheduled_time(p2, t5, t6)
        t_scalars = scoring.scheduled_time(p2, 45.0, 15.0)  # single numbers: stride-0 operands
    for got, expected in ((p, expected_p), (t, expected_t), (p2, expected_p), (t2_, expected_t)):
        assert got.tobytes() == expected.tobytes()
    assert t_scalars.tobytes() == (45.0 + expected_p * 15.0).tobytes()
    if threads > 1:
        assert any(thread.name.startswith("scoring-kernel") for thread in threading.enumerate())


@pytest.mark.parametrize("threads", [1, 2])
def test_threaded_errors_name_the_lowest_index(threads):
    t1, t2, t3, t4, t5, t6 = large_inputs()
    t1[250_000] = -1.0  # a later block, found first by whichever thread gets there
    t3[70_001] = math.nan
    t6[5] = -0.5  # after P's inputs in the two-call order, but a lower index
    t4[65_536] = 1e-310  # P overflows at the first element of block 1
    t2[65_536] = 1e300
    with scoring.kernel_threads(threads):
        for fn in (scoring.priority_and_time, two_calls):
            with pytest.raises(ValueError, match=r"^t3 at index 70001 is nan: must be a finite number >= 0$"):
                fn(t1, t2, t3, t4, t5, t6, W)
        t3[70_001] = 0.5
        t1[250_000] = 0.5
        for fn in (scoring.priority_and_time, two_calls):
            with pytest.raises(
                ValueError, match=r"^P at index 65536 is inf: must be finite \(the inputs are too large"
            ):
                fn(t1, t2, t3, t4, t5, t6, W)
        t2[65_536] = t4[65_536] = 1.0
        for fn in (scoring.priority_and_time, two_calls):
            with pytest.raises(ValueError, match=r"^t6 at index 5 is -0\.5: must be a finite number >= 0$"):
                fn(t1, t2, t3, t4, t5, t6, W)


def test_time_overflow_is_named_and_a_large_bound_is_not_an_error():
    # Peaks 1e200 and 1e200 bound T at inf, yet no element overflows: T is returned.
    p, t5, t6 = np.array([1e200, 1.0, 2.0]), np.zeros(3), np.array([1.0, 1e200, 3.0])
    assert scoring.scheduled_time(p, t5, t6).tolist() == [1e200, 1e200, 6.0]
    assert scoring.priority_and_time(p, 0.0, 0.0, 2.0, t5, t6, (1.0, 0.0, 0.0))[1].tolist() == [5e199, 5e199, 3.0]
    with pytest.raises(ValueError, match=r"^T at index 1 is inf: must be finite \(the inputs are too large\)$"):
        scoring.scheduled_time([1.0, 1e300, 1.0], 0.0, [1.0, 1e10, 1.0])
    with pytest.raises(ValueError, match=r"^T at index 1 is inf"):
        scoring.priority_and_time([1.0, 1e300], 0.0, 0.0, 1.0, 0.0, [1.0, 1e10], (1.0, 0.0, 0.0))


def test_infinite_t4_is_rejected_though_p_would_be_zero():
    t4 = np.ones(LARGE)
    t4[200_000] = math.inf
    for fn in (scoring.priority_and_time, two_calls):
        with pytest.raises(ValueError, match=r"^t4 at index 200000 is inf: must be a finite number > 0$"):
            fn(0.0, 0.0, 0.0, t4, 1.0, 1.0, W)


def test_negative_zero_in_a_large_input_is_valid():
    # -0.0 fails the one-pass check (a false alarm): the exact path must give the same numbers.
    t1, t2, t3, t4, t5, t6 = large_inputs()
    t1[123_456] = t5[200_001] = -0.0
    expected_p = (0.5 * t1 + 0.3 * t2 + 0.2 * t3) / t4
    with scoring.kernel_threads(2):
        p, t = scoring.priority_and_time(t1, t2, t3, t4, t5, t6, W)
    assert p.tobytes() == expected_p.tobytes()
    assert t.tobytes() == (t5 + expected_p * t6).tobytes()


def test_strided_and_fortran_order_inputs():
    rng = np.random.default_rng(5)
    t1 = rng.random((600, 500))[::2]  # a strided view, shape (300, 500)
    t2 = np.asfortranarray(3 * rng.random((300, 500)))
    t3, t4 = rng.random((300, 500)), 0.25 + rng.random((300, 500))
    expected = (0.5 * t1 + 0.3 * t2 + 0.2 * t3) / t4
    p, t = scoring.priority_and_time(t1, t2, t3, t4, 30.0, t2, W)
    assert p.shape == (300, 500)
    assert p.tobytes() == expected.tobytes()
    assert t.tobytes() == (30.0 + expected * t2).tobytes()
    t2[123, 45] = -1.0
    with pytest.raises(ValueError, match=r"^t2 at index \(123, 45\) is -1\.0"):
        scoring.priority_and_time(t1, t2, t3, t4, 30.0, 10.0, W)


def test_concurrent_threaded_calls_share_the_helpers():
    cases = [large_inputs(seed) for seed in range(3)]

    def run(case):
        return scoring.priority_and_time(*case, W)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, cases))
    for (t1, t2, t3, t4, t5, t6), (p, t) in zip(cases, results, strict=True):
        expected_p = (0.5 * t1 + 0.3 * t2 + 0.2 * t3) / t4
        assert p.tobytes() == expected_p.tobytes()
        assert t.tobytes() == (t5 + expected_p * t6).tobytes()


def _threaded_priority_in_child(queue):
    t1, t2, t3, t4, _, _ = large_inputs()
    with scoring.kernel_threads(2):
        p = scoring.visit_priority(t1, t2, t3, t4, W)
    helpers = [thread.name for thread in threading.enumerate() if thread.name.startswith("scoring-kernel")]
    queue.put((p.tobytes() == ((0.5 * t1 + 0.3 * t2 + 0.2 * t3) / t4).tobytes(), len(helpers)))


def test_threads_start_afresh_in_a_forked_child():
    # Celery prefork and gunicorn fork workers: the parent's helper threads do not exist there.
    with scoring.kernel_threads(2):
        scoring.visit_priority(*large_inputs()[:4], W)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_threaded_priority_in_child, args=(queue,))
    child.start()
    exact, helpers = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert exact
    assert helpers >= 1  # the child started its own helper


@pytest.mark.parametrize("count", [0, -1, 1.5])
def test_kernel_threads_rejects(count):
    with pytest.raises(ValueError, match=r"^count is .*: must be an integer >= 1$"), scoring.kernel_threads(count):
        pass
