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


def _stored_sums_sql(
    ranges: list[tuple[int, int, int]], rep_ids: list[int] | None, columns: Sequence[str]
) -> tuple[str, list]:
    terms, marks, state = _table(VisitDayTerms), _table(VisitDayMark), _table(VisitDayState)
    windows = " UNION ALL ".join(["SELECT %s AS k, %s AS lo, %s AS hi"] * len(ranges))
    params: list = [value for window in ranges for value in window]
    rep_filter, rep_params = "", []
    if rep_ids is not None:
        rep_filter = f"AND {{alias}}.{_q('rep_id')} IN ({', '.join(['%s'] * len(rep_ids))})"
        rep_params = list(rep_ids)
    sums = ", ".join(f"CAST(SUM(c.{_q(name)}) AS BIGINT)" for name in columns)
    zeros = ", ".join(["0"] * (len(columns) - 1))
    sql = (
        f"SELECT w.k, c.{_q('rep_id')}, {sums} FROM {terms} c "  # noqa: S608 - names are quoted, values are params
        f"INNER JOIN ({windows}) w ON c.{_q('day')} >= w.lo AND c.{_q('day')} < w.hi "
        f"WHERE NOT EXISTS (SELECT 1 FROM {marks} m WHERE m.{_q('rep_id')} = c.{_q('rep_id')} "
        f"AND m.{_q('day')} = c.{_q('day')}) {rep_filter.format(alias='c')} "
        f"GROUP BY w.k, c.{_q('rep_id')} "
        # The changed days the windows cover: read from the visits instead.
        f"UNION ALL SELECT DISTINCT -1, m.{_q('rep_id')}, m.{_q('day')}{', ' + zeros if zeros else ''} FROM {marks} m "
        f"WHERE m.{_q('day')} >= %s AND m.{_q('day')} < %s {rep_filter.format(alias='m')} "
        # A row -2 when the stored sums are not usable: never built, or built in another zone.
        f"UNION ALL SELECT -2, 0, {zeros + ', ' if zeros else ''}0 WHERE NOT EXISTS "
        f"(SELECT 1 FROM {state} s WHERE s.{_q('zone')} = %s)"
    )
    params += rep_params
    params += [min(lo for _, lo, _ in ranges), max(hi for _, _, hi in ranges)] + rep_params
    params.append(settings.TIME_ZONE)
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
    """The stored sums of `columns` per window and rep over the windows' whole closed days, in one query."""
    today = math.floor(now / SECONDS_PER_DAY)
    day_ranges = [_stored_day_range(window, today) for window in windows]
    stored = [(k, lo, hi) for k, (lo, hi) in enumerate(day_ranges) if lo < hi]
    rows: list[tuple] = []
    if stored and rep_ids != []:
        sql, params = _stored_sums_sql(stored, rep_ids, columns)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
    usable = bool(stored) and not any(row[0] == -2 for row in rows)
    if not usable:
        day_ranges, rows = [(0, 0)] * len(windows), []
    return StoredDaySums(
        day_ranges=day_ranges,
        rows=np.array([row for row in rows if row[0] >= 0], dtype=np.int64).reshape(-1, 2 + len(columns)),
        changed=np.array([(row[1], row[2]) for row in rows if row[0] == -1], dtype=np.int64).reshape(-1, 2),
        usable=usable,
    )


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
