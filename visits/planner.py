"""Fill a rep's working days with visits: pure NumPy, no Django.

Times are minutes since local midnight of each day; the service converts them to
aware datetimes. Node 0 of the distance matrix is the rep's base and node k is
candidate k-1, so indices here are positions in the caller's candidate arrays.

The plan for a day:
1. free windows = working hours minus lunch and the visits a person fixed;
2. take candidates in descending priority while their booked minutes plus an
   estimate of the travel to reach them (from the nearest stop already chosen)
   fit the free minutes of the day;
3. order the chosen stops as a route (nearest neighbour, then 2-opt);
4. walk the route assigning start times: drive, then start at the first free
   moment the whole visit fits; a stop that no longer fits goes back to the pool
   for the next day.
"""

import math
from dataclasses import dataclass

import numpy as np

from visits.routing import order_route


@dataclass(frozen=True)
class DayWindow:
    """One working day: [start, end) minus busy intervals, all in minutes since midnight."""

    start: float
    end: float
    busy: tuple[tuple[float, float], ...] = ()

    def free_intervals(self) -> list[tuple[float, float]]:
        intervals = []
        cursor = self.start
        for busy_start, busy_end in sorted(self.busy):
            if busy_start > cursor:
                intervals.append((cursor, min(busy_start, self.end)))
            cursor = max(cursor, busy_end)
            if cursor >= self.end:
                break
        if cursor < self.end:
            intervals.append((cursor, self.end))
        return [(a, b) for a, b in intervals if b > a]


@dataclass(frozen=True)
class PlannedStop:
    candidate: int  # index into the candidate arrays
    day: int  # index into the days
    start_minute: float
    travel_minutes: float  # driving time from the previous stop (or the base)


START_STEP_MINUTES = 5  # visits start on the 5-minute grid people read calendars in


def earliest_fit(free: list[tuple[float, float]], arrive: float, minutes: float) -> float | None:
    """Earliest start >= arrive, on the 5-minute grid, at which [start, start + minutes] fits one free interval."""
    for interval_start, interval_end in free:
        start = math.ceil(max(arrive, interval_start) / START_STEP_MINUTES - 1e-9) * START_STEP_MINUTES
        if start + minutes <= interval_end:
            return float(start)
    return None


def plan_days(
    *,
    days: list[DayWindow],
    priority: np.ndarray,
    minutes: np.ndarray,
    travel_minutes: np.ndarray,
) -> list[PlannedStop]:
    """Plan candidates over the days in order.

    priority, minutes: per candidate (length n). travel_minutes: (n+1, n+1) driving
    minutes with node 0 the base. Candidates are taken in descending priority (ties by
    index, so the plan is deterministic); each is planned at most once.
    """
    n = len(priority)
    order = np.lexsort((np.arange(n), -np.asarray(priority, dtype=np.float64)))
    pool = list(order)
    planned: list[PlannedStop] = []
    for day_index, day in enumerate(days):
        if not pool:
            break
        free = day.free_intervals()
        capacity = sum(b - a for a, b in free)
        chosen: list[int] = []
        used = 0.0
        # nearest[k]: driving minutes to node k from the closest of the base and the stops chosen
        # so far, kept up to date as stops are chosen (one row per choice, not a scan per candidate).
        nearest = travel_minutes[0].copy()
        for candidate in pool:
            reach = float(nearest[candidate + 1])
            if used + reach + minutes[candidate] <= capacity:
                chosen.append(candidate)
                used += reach + minutes[candidate]
                np.minimum(nearest, travel_minutes[candidate + 1], out=nearest)
        if not chosen:
            continue
        nodes = np.array([0] + [c + 1 for c in chosen])
        route = order_route(travel_minutes[np.ix_(nodes, nodes)])
        previous_node = 0
        clock = day.start
        placed = set()
        for local in route:
            candidate = chosen[local - 1]
            drive = float(travel_minutes[previous_node, candidate + 1])
            start = earliest_fit(free, clock + drive, float(minutes[candidate]))
            if start is None:
                continue
            planned.append(PlannedStop(candidate, day_index, start, drive))
            placed.add(candidate)
            clock = start + float(minutes[candidate])
            previous_node = candidate + 1
        pool = [c for c in pool if c not in placed]
    return planned
