"""The shared kernel plumbing: undefined ratios, the JSON edge, and input checks."""

import json
import math

import numpy as np
import pytest

from analytics.numbers import (
    as_bool_array,
    as_group_index,
    check_nonneg,
    ensure_valid,
    group_sum,
    nan_to_none,
    nan_to_none_list,
    ratio,
)


def test_ratio_is_nan_where_the_denominator_is_zero():
    assert nan_to_none_list(ratio([1.0, 0.0, 3.0], [4.0, 0.0, 0.0], scale=100.0)) == [25.0, None, None]
    assert ratio([2.0], [8.0]).tolist() == [0.25]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (math.nan, None), (np.float64("nan"), None), (math.inf, None), (np.float64(2.5), 2.5), (0, 0.0)],
)
def test_nan_to_none(value, expected):
    assert nan_to_none(value) == expected


def test_nan_to_none_list_is_json_ready():
    values = nan_to_none_list(np.array([[1.5, np.nan], [np.inf, 0.0]]))
    assert values == [[1.5, None], [None, 0.0]]
    assert json.dumps(values) == "[[1.5, null], [null, 0.0]]"
    assert nan_to_none_list([]) == []


def test_group_sum_and_indices():
    groups = as_group_index(np.array([2.0, 0.0, 2.0]), 4)
    assert groups.dtype == np.int64
    assert group_sum([1.0, 2.0, 3.0], groups, 4).tolist() == [2.0, 0.0, 4.0, 0.0]
    with pytest.raises(ValueError, match=r"^group_index at index 1 is 0\.5: must be an integer$"):
        as_group_index([1.0, 0.5], 4)
    with pytest.raises(ValueError, match=r"^n_groups is -1"):
        as_group_index([0], -1)


def test_bool_and_ensure_valid():
    assert as_bool_array([0, 1, 1.0], "flag").tolist() == [False, True, True]
    with pytest.raises(ValueError, match=r"^flag at index 2 is 0\.5: must be a boolean \(0 or 1\)$"):
        as_bool_array([0, 1, 0.5], "flag")
    with pytest.raises(TypeError, match=r"^flag must be booleans"):
        as_bool_array(["yes"], "flag")
    ensure_valid(check_nonneg("x", np.array([0.0, -0.0, 5.0])))  # -0.0 is a valid zero
    with pytest.raises(ValueError, match=r"^x at index \(1, 0\) is -1\.0: must be a finite number >= 0$"):
        ensure_valid(check_nonneg("x", np.array([[0.0, 1.0], [-1.0, 2.0]])))
