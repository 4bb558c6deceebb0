"""Route ordering: nearest neighbour then 2-opt on a distance matrix, node 0 the rep's base."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from visits.routing import nearest_neighbour, order_route, tour_length, two_opt


def euclidean(points):
    points = np.asarray(points, dtype=float)
    return np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1)


def test_nearest_neighbour_on_a_line_drives_outward():
    # base at 0; stops at x = 3, 1, 2 -> visit 1 (x=1), then 2 (x=2), then 3 (x=3)... by index: 2, 3, 1
    dist = euclidean([[0, 0], [3, 0], [1, 0], [2, 0]])
    assert nearest_neighbour(dist).tolist() == [2, 3, 1]


def test_two_opt_removes_a_crossing():
    # Unit square, base at (0,0). The tour 0-(1,1)-(1,0)-(0,1)-0 crosses itself (length 2+2*sqrt2);
    # the optimum walks the perimeter (length 4).
    dist = euclidean([[0, 0], [1, 1], [1, 0], [0, 1]])
    crossing = np.array([1, 2, 3])
    assert tour_length(crossing, dist) == pytest.approx(2 + 2 * np.sqrt(2))
    improved = two_opt(crossing, dist)
    assert tour_length(improved, dist) == pytest.approx(4.0)
    assert sorted(improved.tolist()) == [1, 2, 3]


def test_order_route_of_empty_and_single_stop_days():
    assert order_route(np.zeros((1, 1))).tolist() == []
    assert order_route(euclidean([[0, 0], [5, 5]])).tolist() == [1]


def is_two_opt_optimal(route, dist):
    tour = np.concatenate(([0], route, [0]))
    edges = len(tour) - 1
    for i in range(edges - 2):
        for j in range(i + 2, edges):
            a, b, c, d = tour[i], tour[i + 1], tour[j], tour[j + 1]
            if dist[a, b] + dist[c, d] - dist[a, c] - dist[b, d] > 1e-9:
                return False
    return True


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 50), st.floats(-50, 50)), min_size=1, max_size=9))
def test_route_is_a_permutation_no_worse_than_nearest_neighbour_and_2opt_optimal(points):
    dist = euclidean(points)
    route = order_route(dist)
    assert sorted(route.tolist()) == list(range(1, len(points)))
    assert tour_length(route, dist) <= tour_length(nearest_neighbour(dist), dist) + 1e-9
    assert is_two_opt_optimal(route, dist)


def test_routes_are_close_to_optimal_on_small_random_days():
    # 40 fixed random days of 7 stops: compare with the brute-force optimum.
    rng = np.random.default_rng(2026)
    ratios = []
    for _ in range(40):
        dist = euclidean(rng.uniform(0, 100, size=(8, 2)))
        best = min(tour_length(np.array(p), dist) for p in itertools.permutations(range(1, 8)))
        ratios.append(tour_length(order_route(dist), dist) / best)
    assert min(ratios) >= 1 - 1e-12
    assert np.mean(ratios) < 1.03
    assert max(ratios) < 1.2


def test_route_is_deterministic():
    rng = np.random.default_rng(7)
    dist = euclidean(rng.uniform(0, 100, size=(12, 2)))
    assert order_route(dist).tolist() == order_route(dist).tolist()
