"""Spec section 2 term sums per rep over time windows: stored day sums where they hold, visits where not.

A team's CS ratios over a year would need ~180k visit rows. Instead, for every closed
UTC day (before today), `analytics.visit_days` stores each rep's sums of the four
ratios' terms, which the satisfaction kernels computed (`VisitDayTerms`). A window's
sums are the stored sums of its whole closed days plus the kernel's terms of the
visits in the rest: partial days at its edges, today and later (CS_plan counts only
the visits due by now), and days marked as changed since they were stored
(`VisitDayMark`, written by database triggers on every write to the visits table,
whatever the path). Terms are whole numbers, so the sums, and the ratios made from
them, equal those computed over the visits themselves. When the stored sums cannot
be used (never built, or built in another TIME_ZONE: CS_plan's "the day it was
planned for" is a local day) every window is read from the visits.

Two queries: the stored sums per window and rep (with the changed days and the
state, in one statement), then the visits not covered. The visit-effect counts stored
beside the terms are read the same way (`load_stored_day_sums`, `uncovered`), by
check-out day, in `analytics.bridge.visit_effect`.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.conf import settings
from django.db import connection
from django.db.models import Q

from analytics.bridge.columns import _q, _table
from analytics.bridge.visits import VisitRatioInputs, visit_ratio_arrays
from analytics.models import VISIT_TERM_COLUMNS, VisitDayMark, VisitDayState, VisitDayTerms
from analytics.satisfaction import RatioTerms, satisfaction_sums_by_group
from visits.models import Visit

SECONDS_PER_DAY = 86_400
# (rep, day) pairs as one int64 key: days since 1970 stay far below 2**24 (year 47,900).
_DAY_BITS = 24


@dataclass(frozen=True)
class TermWindow:
    """A half-open window [start, end) of planned starts, epoch seconds; CS_plan counts those before `due_until`."""

    start: float
    end: float
    due_until: float


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class VisitTermSums:
    """Sums of the terms per window and rep: `sums[k, r, c]` for window k, `rep_id[r]`, `VISIT_TERM_COLUMNS[c]`."""

    rep_id: np.ndarray  # int64, ascending
    sums: np.ndarray  # float64, shape (windows, reps, 8); whole numbers
    from_stored_days: bool  # False when every window was read from the visits


def cell_key(rep_id: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (np.asarray(rep_id, dtype=np.int64) << _DAY_BITS) | np.asarray(day, dtype=np.int64)


def split_cell_key(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (rep ids, days) of `cell_key` keys."""
    return keys >> _DAY_BITS, keys & ((1 << _DAY_BITS) - 1)


def utc_day(epochs: np.ndarray) -> np.ndarray:
    """The UTC day (days since 1970-01-01) of each instant, as the triggers compute it."""
    return np.floor(np.asarray(epochs, dtype=np.float64) / SECONDS_PER_DAY).astype(np.int64)


def term_sums_by_group(visits: VisitRatioInputs, group: np.ndarray, n_groups: int, **period) -> np.ndarray:
    """The kernel's term sums of the visits per group: shape (n_groups, 8) in `VISIT_TERM_COLUMNS` order."""
    sums = satisfaction_sums_by_group(group_index=group, n_groups=n_groups, **visits.kernel_arguments(), **period)
    return np.stack([part for terms in sums for part in (terms.numerator, terms.denominator)], axis=1)


def _stored_day_range(window: TermWindow, today: int) -> tuple[int, int]:
    """The closed UTC days [first, last) lying wholly inside the window (first >= last: none)."""
    return math.ceil(window.start / SECONDS_PER_DAY), min(math.floor(window.end / SECONDS_PER_DAY), today)


def utc_moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def day_start(day: int) -> datetime:
    """When a UTC day (days since 1970-01-01) begins."""
    return utc_moment(day * SECONDS_PER_DAY)


def _bucket_of_day(column: str, edges: list[int]) -> tuple[str, list]:
    """SQL for the bucket i of a day in [edges[0], edges[-1]): edges[i] <= day < edges[i + 1] (two buckets or more)."""
    if connection.vendor == "postgresql":  # a binary search, cheaper than a CASE per row
        return f"width_bucket({column}, CAST(%s AS integer[])) - 1", [edges]
    whens = " ".join(["WHEN {column} < %s THEN %s"] * (len(edges) - 2)).format(column=column)
    params = [value for i, edge in enumerate(edges[1:-1]) for value in (edge, i)]
    return f"CASE {whens} ELSE %s END", [*params, len(edges) - 2]


def _stored_sums_sql(
    edges: list[int], buckets: list[int], rep_ids: list[int] | None, columns: Sequence[str]
) -> tuple[str, list]:
    """One statement for `load_stored_day_sums`, rows (tag, rep id, day, count, *sums):

    - per bucket of days [edges[i], edges[i + 1]) among `buckets` (tag i) and rep,
      the count and the sums of the stored days, changed days included;
    - per changed day in [edges[0], edges[-1]) (tag -1), its stored sums (count 0 or 1);
    - a row -2 when the stored sums are not usable: never built, or built in another zone.

    The stored days are read in one pass (not one per window), and the changed days are
    taken out in NumPy (they are few), not by an anti-join over every stored day.
    """
    terms, marks, state = _table(VisitDayTerms), _table(VisitDayMark), _table(VisitDayState)
    rep, day = _q("rep_id"), _q("day")
    rep_filter, rep_params = "", []
    if rep_ids is not None:
        rep_filter = f"AND {{alias}}.{rep} IN ({', '.join(['%s'] * len(rep_ids))})"
        rep_params = list(rep_ids)
    spans = _merged([(edges[k], edges[k + 1]) for k in buckets])
    in_spans = " OR ".join([f"(c.{day} >= %s AND c.{day} < %s)"] * len(spans))
    if len(buckets) == 1:  # every window the same: no bucket to compute
        bucket, joined, bucket_params, group = "%s", "", buckets, f"c.{rep}"
    else:
        # Joined by equality to the list of buckets, not grouped by the bucket expression: the
        # planner then expects ~buckets x reps groups (not days x reps) and hashes them instead
        # of sorting every stored day. (With one bucket it would plan the join as a filter of
        # ~0 rows, hence the case above.)
        expression, expression_params = _bucket_of_day(f"c.{day}", edges)
        listed = " UNION ALL ".join(["SELECT %s AS k"] * len(buckets))
        bucket, joined, group = "b.k", f"INNER JOIN ({listed}) b ON b.k = {expression} ", f"b.k, c.{rep}"
        bucket_params = [*buckets, *expression_params]
    sums = ", ".join(f"CAST(SUM(c.{_q(name)}) AS BIGINT)" for name in columns)
    cells = ", ".join(f"COALESCE(c.{_q(name)}, 0)" for name in columns)
    zeros = ", ".join(["0"] * len(columns))
    sql = (
        f"SELECT {bucket}, c.{rep}, 0, COUNT(*), {sums} FROM {terms} c {joined}"  # noqa: S608 - names quoted, values params
        f"WHERE ({in_spans}) {rep_filter.format(alias='c')} GROUP BY {group} "
        f"UNION ALL SELECT -1, m.{rep}, m.{day}, CASE WHEN c.{rep} IS NULL THEN 0 ELSE 1 END, {cells} "
        f"FROM (SELECT DISTINCT {rep}, {day} FROM {marks} WHERE {day} >= %s AND {day} < %s "
        f"{rep_filter.format(alias=marks)}) m "
        f"LEFT JOIN {terms} c ON c.{rep} = m.{rep} AND c.{day} = m.{day} "
        f"UNION ALL SELECT -2, 0, 0, 0, {zeros} WHERE NOT EXISTS (SELECT 1 FROM {state} s WHERE s.{_q('zone')} = %s)"
    )
    params = [*bucket_params, *[bound for span in spans for bound in span], *rep_params]
    params += [edges[0], edges[-1], *rep_params, settings.TIME_ZONE]
    return sql, params


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class StoredDaySums:
    """What the stored day sums cover of some windows, and their sums there (one query: `load_stored_day_sums`)."""

    day_ranges: list[tuple[int, int]]  # per window, the closed UTC days [lo, hi) read from the stored sums
    rows: np.ndarray  # int64 (window, rep id, *columns): the sums of those days, marked days left out
    changed: np.ndarray  # int64 (rep id, day): the marked days in the ranges, to read from the visits instead
    usable: bool  # False: nothing stored could be used, every window is read from the visits


def load_stored_day_sums(
    *, rep_ids: list[int] | None, windows: Sequence[TermWindow], now: float, columns: Sequence[str]
) -> StoredDaySums:
    """The stored sums of `columns` per window and rep over the windows' whole closed days, in one query.

    The windows' bounds cut the days into buckets; the query sums each rep's stored days
    per bucket in one pass, and a window's sums are those of its buckets, less its changed
    days (cumulative sums over the buckets, in NumPy). `rows` are ordered by window, then rep.
    """
    today = math.floor(now / SECONDS_PER_DAY)
    day_ranges = [_stored_day_range(window, today) for window in windows]
    stored = [(k, lo, hi) for k, (lo, hi) in enumerate(day_ranges) if lo < hi]
    width = len(columns)
    table = np.empty((0, 4 + width), dtype=np.int64)
    edges = sorted({bound for _, lo, hi in stored for bound in (lo, hi)})
    if stored and rep_ids != []:
        buckets = [i for i in range(len(edges) - 1) if any(lo <= edges[i] < hi for _, lo, hi in stored)]
        sql, params = _stored_sums_sql(edges, buckets, rep_ids, columns)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            table = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 4 + width)
    if not stored or (table[:, 0] == -2).any():
        return StoredDaySums(
            day_ranges=[(0, 0)] * len(windows),
            rows=np.empty((0, 2 + width), dtype=np.int64),
            changed=np.empty((0, 2), dtype=np.int64),
            usable=False,
        )
    marked = table[table[:, 0] == -1]
    marked = marked[np.lexsort((marked[:, 2], marked[:, 1]))]
    return StoredDaySums(
        day_ranges=day_ranges,
        rows=_window_rows(table[table[:, 0] >= 0], marked, np.array(edges, dtype=np.int64), stored),
        changed=marked[:, 1:3],
        usable=True,
    )


def _window_rows(
    cells: np.ndarray, marked: np.ndarray, edges: np.ndarray, stored: list[tuple[int, int, int]]
) -> np.ndarray:
    """Rows (window, rep id, *sums) from the bucket rows and the changed days of `_stored_sums_sql`: per window
    (k, lo, hi) and rep with at least one unchanged stored day in [lo, hi), the sums of those days."""
    width = cells.shape[1] - 4
    rep_id = np.union1d(cells[:, 1], marked[:, 1])
    grid = np.zeros((len(rep_id), len(edges), 1 + width), dtype=np.int64)  # slot 0: before every bucket
    grid[np.searchsorted(rep_id, cells[:, 1]), cells[:, 0] + 1] = cells[:, 3:]  # one row per (bucket, rep)
    bucket = np.searchsorted(edges, marked[:, 2], side="right") - 1
    np.subtract.at(grid, (np.searchsorted(rep_id, marked[:, 1]), bucket + 1), marked[:, 3:])
    cumulative = np.cumsum(grid, axis=1)  # [:, i]: the buckets before edges[i]
    k, lo, hi = (np.array(column, dtype=np.int64) for column in zip(*stored, strict=True))
    sums = cumulative[:, np.searchsorted(edges, hi)] - cumulative[:, np.searchsorted(edges, lo)]  # (reps, windows, ..)
    window, rep = np.nonzero(sums[:, :, 0].T > 0)  # days counted: window-major, reps ascending
    return np.column_stack([k[window], rep_id[rep], sums[rep, window, 1:]]).reshape(-1, 2 + width)


def uncovered(stored: StoredDaySums, windows: Sequence[TermWindow], field: str) -> Q:
    """The visits whose `field` (a time) lies in a window where the stored sums do not cover it: the windows'
    edges outside their whole closed days, today on, and the changed days.

    The changed days are asked for as runs of consecutive days, for every rep with a
    changed day among them: a condition per run, not per (rep, day), however many
    days a bulk write marked. The visits this adds on covered days are left out by
    `on_covered_day`.
    """
    spans = []
    for window, (lo, hi) in zip(windows, stored.day_ranges, strict=True):
        if lo >= hi:
            spans.append((window.start, window.end))
            continue
        spans += [(window.start, lo * SECONDS_PER_DAY), (hi * SECONDS_PER_DAY, window.end)]
    condition = Q(pk__in=[])
    for start, end in _merged([span for span in spans if span[0] < span[1]]):
        condition |= Q(**{f"{field}__gte": utc_moment(start), f"{field}__lt": utc_moment(end)})
    changed = stored.changed
    days = np.unique(changed[:, 1])
    runs = _merged([(float(day), float(day + 1)) for day in days.tolist()])  # touching days join
    for first, end in runs:
        in_run = (changed[:, 1] >= first) & (changed[:, 1] < end)
        condition |= Q(
            rep_id__in=np.unique(changed[in_run, 0]).tolist(),
            **{f"{field}__gte": day_start(int(first)), f"{field}__lt": day_start(int(end))},
        )
    return condition


def on_covered_day(stored: StoredDaySums, k: int, rep_id: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Whether each visit (rep, time) lies on a day whose sums window k read from the stored sums."""
    lo, hi = stored.day_ranges[k]
    day = utc_day(times)
    changed = np.isin(cell_key(rep_id, day), cell_key(stored.changed[:, 0], stored.changed[:, 1]))
    return (day >= lo) & (day < hi) & ~changed


def load_visit_term_sums(*, rep_ids: Sequence[int] | None, windows: Sequence[TermWindow], now: float) -> VisitTermSums:
    """The term sums of the visits of these reps (None: everybody's) planned in each window, in at most two queries.

    `now` (epoch seconds) decides which days are closed. See the module docstring.
    """
    reps = None if rep_ids is None else sorted({int(pk) for pk in rep_ids})
    stored = load_stored_day_sums(rep_ids=reps, windows=windows, now=now, columns=VISIT_TERM_COLUMNS)
    visits = Visit.objects.filter(uncovered(stored, windows, "planned_start"))
    if reps is not None:
        visits = visits.filter(rep_id__in=reps)
    visits = visit_ratio_arrays(visits.order_by(), bulk=True, packed=reps is not None)

    rows = stored.rows
    rep_id = np.unique(np.concatenate([rows[:, 1], visits.rep_id])) if reps is None else np.array(reps)
    rep_id = rep_id.astype(np.int64)
    n = len(rep_id)
    sums = np.zeros((len(windows), n, len(VISIT_TERM_COLUMNS)), dtype=np.float64)
    if len(rows):
        np.add.at(sums, (rows[:, 0], np.searchsorted(rep_id, rows[:, 1])), rows[:, 2:])

    visit_group = np.searchsorted(rep_id, visits.rep_id)
    for k, window in enumerate(windows):  # a handful of windows
        in_window = (visits.planned_start >= window.start) & (visits.planned_start < window.end)
        counted = in_window & ~on_covered_day(stored, k, visits.rep_id, visits.planned_start)
        sums[k] += term_sums_by_group(
            visits,
            np.where(counted, visit_group, n),
            n + 1,
            period_start=window.start,
            period_end=max(window.start, window.due_until),
        )[:n]
    return VisitTermSums(rep_id=rep_id, sums=sums, from_stored_days=stored.usable)


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Overlapping or touching spans joined (a few dozen spans at most)."""
    out: list[list[float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(start, end) for start, end in out]


def as_ratio_terms(sums: np.ndarray) -> tuple[RatioTerms, RatioTerms, RatioTerms, RatioTerms]:
    """Sums shaped (..., 8) as the (need, expectation, plan, policy) terms `satisfaction.ratios_of_sums` takes."""
    return tuple(RatioTerms(numerator=sums[..., 2 * i], denominator=sums[..., 2 * i + 1]) for i in range(4))
