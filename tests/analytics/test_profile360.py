"""Spec section 6: the five Customer 360 dimensions and NaN-aware group means."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.numbers import nan_to_none_list
from analytics.profile360 import DIMENSIONS, group_means, profile360

NAN = math.nan

# Four customers over the last 365 days:
#  c0: 6 needs on 3 completed visits, 1 order, 12 months, T1 1.0, 3 of 4 planned completed, mean score 4.5
#  c1: 1 need on 2 visits, no order, 6 months (new this year), T1 0.25, 2 of 2, mean score 1
#  c2: no visit, 2 orders, 12 months, T1 0, nothing planned, never scored
#  c3: 2 needs on 1 visit, created today (0 months), T1 0.5, 1 of 3, mean score 3
CUSTOMERS = {
    "needs_raised": [6, 1, 0, 2],
    "completed_visits": [3, 2, 0, 1],
    "orders": [1, 0, 2, 0],
    "months_observed": [12, 6, 12, 0],
    "t1": [1.0, 0.25, 0.0, 0.5],
    "planned_visits": [4, 2, 0, 3],
    "planned_completed": [3, 2, 0, 1],
    "mean_actual_satisfaction": [4.5, 1.0, NAN, 3.0],
}


def test_dimensions_hand_computed():
    profile = profile360(**CUSTOMERS)
    # demand: needs per visit 2, 0.5, undefined, 2 -> scaled by the max 2
    assert nan_to_none_list(profile.demand) == [100.0, 25.0, None, 100.0]
    # behaviour: (visits + orders) per month 4/12, 2/6, 2/12, undefined -> scaled by 1/3
    assert nan_to_none_list(profile.behaviour) == pytest.approx([100.0, 100.0, 50.0, None])
    assert profile.value.tolist() == [100.0, 25.0, 0.0, 50.0]
    # relationship: 3/4, 2/2, nothing planned, 1/3
    assert nan_to_none_list(profile.relationship) == pytest.approx([75.0, 100.0, None, 100 / 3])
    # satisfaction: 25 * (score - 1)
    assert nan_to_none_list(profile.satisfaction) == [87.5, 0.0, None, 50.0]
    assert profile.as_matrix().shape == (4, 5)


def test_group_means_ignore_nan():
    matrix = profile360(**CUSTOMERS).as_matrix()
    # c0, c1 in segment 0; c2, c3 in segment 1; segment 2 is empty.
    means = group_means(matrix, [0, 0, 1, 1], 3)
    assert means.shape == (3, len(DIMENSIONS))
    assert nan_to_none_list(means) == [
        pytest.approx([62.5, 100.0, 62.5, 87.5, 43.75]),
        pytest.approx([100.0, 50.0, 25.0, 100 / 3, 50.0]),
        [None] * 5,
    ]
    # 1-D values give one mean per group.
    assert nan_to_none_list(group_means([1.0, NAN, 3.0, NAN], [1, 1, 1, 0], 2)) == [None, 2.0]


def test_all_zero_and_all_undefined_scales():
    zeros = dict(CUSTOMERS, needs_raised=[0, 0, 0, 0], orders=[0, 0, 0, 0], completed_visits=[1, 1, 1, 1])
    profile = profile360(**zeros)
    assert profile.demand.tolist() == [0.0, 0.0, 0.0, 0.0]
    nobody = dict(CUSTOMERS, completed_visits=[0, 0, 0, 0], planned_completed=[0, 0, 0, 0])
    assert nan_to_none_list(profile360(**nobody).demand) == [None] * 4


def test_empty():
    profile = profile360(**{key: [] for key in CUSTOMERS})
    assert all(getattr(profile, name).shape == (0,) for name in DIMENSIONS)
    assert nan_to_none_list(group_means(np.empty(0), np.empty(0, dtype=int), 2)) == [None, None]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"orders": [1, -1, 0, 0]}, r"^orders at index 1 is -1\.0: must be a finite number >= 0$"),
        ({"t1": [1.0, 0.25, 1.5, 0.5]}, r"^t1 at index 2 is 1\.5: must be a fraction in \[0, 1\]$"),
        ({"planned_completed": [3, 2, 0, 4]}, r"^planned_completed at index 3 is 4\.0: must be <= planned_visits$"),
        ({"mean_actual_satisfaction": [4.5, 0.5, NAN, 3]}, r"^mean_actual_satisfaction at index 1 is 0\.5"),
        ({"months_observed": [12, NAN, 12, 0]}, r"^months_observed at index 1 is nan"),
    ],
)
def test_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        profile360(**{**CUSTOMERS, **change})


def test_group_means_rejects():
    with pytest.raises(ValueError, match=r"^group_index at index 1 is 2: must be an integer in \[0, 2\)$"):
        group_means([1.0, 2.0], [0, 2], 2)
    with pytest.raises(ValueError, match=r"^values at index \(0, 1\) is inf"):
        group_means([[1.0, np.inf]], [0], 1)
    with pytest.raises(ValueError, match=r"^group_index must have shape \(2,\)"):
        group_means([1.0, 2.0], [0], 1)


# --- against per-customer and per-group loops ----------------------------------------------


@st.composite
def customers(draw):
    completed = draw(st.integers(0, 30))
    planned = draw(st.integers(0, 30))
    return {
        "needs_raised": float(draw(st.integers(0, 50))),
        "completed_visits": float(completed),
        "orders": float(draw(st.integers(0, 20))),
        "months_observed": draw(st.one_of(st.just(0.0), st.floats(min_value=0.5, max_value=12))),
        "t1": draw(st.floats(min_value=0, max_value=1)),
        "planned_visits": float(planned),
        "planned_completed": float(draw(st.integers(0, planned))),
        "mean_actual_satisfaction": draw(st.one_of(st.just(NAN), st.floats(min_value=1, max_value=5))),
        "group": draw(st.integers(0, 3)),
    }


def reference(rows):
    demand = [r["needs_raised"] / r["completed_visits"] if r["completed_visits"] else None for r in rows]
    behaviour = [
        (r["completed_visits"] + r["orders"]) / r["months_observed"] if r["months_observed"] else None for r in rows
    ]

    def scaled(raw):
        top = max((v for v in raw if v is not None), default=None)
        return [None if v is None else (0.0 if top == 0 else 100 * v / top) for v in raw]

    return {
        "demand": scaled(demand),
        "behaviour": scaled(behaviour),
        "value": [100 * r["t1"] for r in rows],
        "relationship": [
            100 * r["planned_completed"] / r["planned_visits"] if r["planned_visits"] else None for r in rows
        ],
        "satisfaction": [
            None if math.isnan(r["mean_actual_satisfaction"]) else 25 * (r["mean_actual_satisfaction"] - 1)
            for r in rows
        ],
    }


def approx_list(values):
    return [None if v is None else pytest.approx(v, rel=1e-12, abs=1e-12) for v in values]


@settings(deadline=None)
@given(st.lists(customers(), max_size=25))
def test_profile_and_group_means_match_reference(rows):
    arrays = {key: np.array([r[key] for r in rows], dtype=float) for key in CUSTOMERS}
    profile = profile360(**arrays)
    expected = reference(rows)
    for name in DIMENSIONS:
        got = nan_to_none_list(getattr(profile, name))
        assert got == approx_list(expected[name])
        assert all(v is None or -1e-9 <= v <= 100 + 1e-9 for v in got)
    groups = [r["group"] for r in rows]
    means = group_means(profile.as_matrix(), groups, 4)
    for g in range(4):
        for column, name in enumerate(DIMENSIONS):
            defined = [v for v, gi in zip(expected[name], groups, strict=True) if gi == g and v is not None]
            want = sum(defined) / len(defined) if defined else None
            assert nan_to_none_list(means[g, column : column + 1]) == approx_list([want])
