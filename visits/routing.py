"""Route ordering for one rep's day: nearest neighbour from the base, then 2-opt.

Pure NumPy, no Django. Node 0 of every distance matrix is the rep's base; the
route starts there and the day ends with the trip back (a closed tour), which is
what a rep drives.
"""

import numpy as np
from numpy.typing import ArrayLike


def tour_length(route: ArrayLike, dist: np.ndarray) -> float:
    """Length of the closed tour base -> route... -> base (route holds stop indices >= 1)."""
    stops = np.concatenate(([0], np.asarray(route, dtype=np.intp), [0]))
    return float(dist[stops[:-1], stops[1:]].sum())


def nearest_neighbour(dist: np.ndarray) -> np.ndarray:
    """Visit order of stops 1..n-1 built by always driving to the closest unvisited stop.

    Ties go to the lower index, so the order is deterministic.
    """
    n = dist.shape[0]
    unvisited = np.ones(n, dtype=bool)
    unvisited[0] = False
    route = np.empty(n - 1, dtype=np.intp)
    current = 0
    for position in range(n - 1):
        candidates = np.where(unvisited, dist[current], np.inf)
        current = int(np.argmin(candidates))
        route[position] = current
        unvisited[current] = False
    return route


def two_opt(route: ArrayLike, dist: np.ndarray, max_rounds: int = 50) -> np.ndarray:
    """Improve a closed tour by reversing segments while that shortens it (first-improvement 2-opt).

    For each edge (a, b) the gains of swapping it with every later edge (c, d) are
    computed at once as a vector; the best positive one is applied.
    """
    tour = np.concatenate(([0], np.asarray(route, dtype=np.intp), [0]))
    n_edges = len(tour) - 1
    for _ in range(max_rounds):
        improved = False
        for i in range(n_edges - 2):
            a, b = tour[i], tour[i + 1]
            c = tour[i + 2 : n_edges]
            d = tour[i + 3 : n_edges + 1]
            gain = dist[a, b] + dist[c, d] - dist[a, c] - dist[b, d]
            best = int(np.argmax(gain))
            if gain[best] > 1e-9:
                j = i + 2 + best
                tour[i + 1 : j + 1] = tour[i + 1 : j + 1][::-1]
                improved = True
        if not improved:
            break
    return tour[1:-1].copy()


def order_route(dist: np.ndarray) -> np.ndarray:
    """The stop order (indices >= 1) for a day: nearest neighbour, then 2-opt."""
    if dist.shape[0] <= 1:
        return np.empty(0, dtype=np.intp)
    return two_opt(nearest_neighbour(dist), dist)
