"""Keep the stored day sums (`VisitDayTerms`) up to date: the satisfaction terms and the visit-effect counts.

The KPI and visit-effect reports read a closed UTC day's per-rep sums instead of its
visits (`analytics.bridge.visit_days`): the CS terms of the visits planned that day,
and the counts of the completed visits checked out that day and of those followed
within 14 days by a sales event. Database triggers mark every (rep, day) those can
change on (migrations 0007 and 0008: visits, stage changes, orders, an opportunity's
customer); `visit_days_refresh` recomputes the marked closed days with the kernels and
stores them, or rebuilds every day when the sums were never built, were built in
another TIME_ZONE, or the stages' order changed (which moves are forward). Until a
marked day is refreshed the reports read its visits, so the figures never depend on
when this runs: it runs in the nightly job, every few minutes from beat, and after a
bulk load, only to keep the reports fast.

Correctness under concurrent writes: the refresh first takes the state row's lock (one
refresh at a time), then deletes the marks it will serve, then reads the visits. A
write committed before the deletion is in the visits read; one committed after it left
its own mark, which stays. One transaction: a refresh that dies leaves everything as it was.

The invariant the report relies on: a closed day's visits are in the stored sums or the
day is marked. Marks for today and later wait until the day closes; a rebuild marks
those days itself, since visits written before the triggers existed have no marks.
"""

import logging
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from analytics.bridge.columns import _q, _table
from analytics.bridge.visit_days import (
    SECONDS_PER_DAY,
    cell_key,
    day_start,
    split_cell_key,
    term_sums_by_group,
    utc_day,
)
from analytics.bridge.visit_effect import load_completed_visits, load_events
from analytics.bridge.visits import load_rep_visit_inputs
from analytics.models import VISIT_EFFECT_COLUMNS, VISIT_TERM_COLUMNS, VisitDayMark, VisitDayState, VisitDayTerms
from analytics.visit_effect_math import HORIZON_SECONDS, effect_counts_by_group, visits_with_effect
from visits.models import Visit

logger = logging.getLogger(__name__)

_INSERT_BATCH = 5_000
_STORED_COLUMNS = (*VISIT_TERM_COLUMNS, *VISIT_EFFECT_COLUMNS)  # `_sums_by_cell`'s column order
REBUILD_ABOVE_CELLS = 5_000  # marked (rep, day) cells past which a refresh rebuilds every day


def visit_days_refresh(*, now: datetime | None = None, full: bool = False) -> int:
    """Store the sums of the closed days marked as changed (all closed days when `full`, needed, or when more
    than `REBUILD_ABOVE_CELLS` are marked).

    Returns the number of (rep, day) sums written.
    """
    now = now or timezone.now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = int(now.timestamp() // SECONDS_PER_DAY)
    with transaction.atomic():
        state, _ = VisitDayState.objects.select_for_update().get_or_create(pk=1)
        rebuild = full or state.zone != settings.TIME_ZONE
        if not rebuild:
            cells = _take_marks(today)
            if not len(cells):
                return 0
            # A bulk write that marked most days (a year of stage changes updated): storing every day again is
            # cheaper than finding each one (measured: 110,000 marked days took 15 s, a rebuild 3-6 s).
            rebuild = len(cells) > REBUILD_ABOVE_CELLS
        if rebuild:
            VisitDayMark.objects.filter(day__lt=today).delete()
            cells, reps, first_day, end_day = None, None, 0, today
        else:
            # The marked reps' visits from the first to the last marked day (unmarked days among them are left).
            marked_reps, days = split_cell_key(cells)
            reps, first_day, end_day = np.unique(marked_reps).tolist(), int(days.min()), int(days.max()) + 1
        unique, sums = _sums_by_cell(
            _term_sums(reps, first_day, end_day, cells), _effect_counts(reps, first_day, end_day, cells)
        )
        if rebuild:
            VisitDayTerms.objects.all().delete()
            _mark_days_from(today)
        else:
            _delete_terms(cells)
        written = _insert_terms(unique, sums)
        state.zone = settings.TIME_ZONE
        state.refreshed_at = now
        state.save(update_fields=["zone", "refreshed_at"])
    logger.info("visit day sums: %s (rep, day) sums written (%s)", written, "rebuild" if rebuild else "marked days")
    return written


def _term_sums(reps: list[int] | None, first_day: int, end_day: int, cells: np.ndarray | None):
    """The (rep, planned day) keys, and the kernel's term sums of each, of the visits planned on those days."""
    arrays = load_rep_visit_inputs(rep_ids=reps, planned_from=day_start(first_day), planned_until=day_start(end_day))
    keys = cell_key(arrays.rep_id, utc_day(arrays.planned_start))
    if cells is not None:
        keep = np.isin(keys, cells)
        arrays = _subset(arrays, keep)
        keys = keys[keep]
    unique, group = np.unique(keys, return_inverse=True)
    return unique, term_sums_by_group(arrays, group.reshape(-1), len(unique))


def _effect_counts(reps: list[int] | None, first_day: int, end_day: int, cells: np.ndarray | None):
    """The (rep, check-out day) keys, and the visit-effect counts of each (visits, those followed by an event), of
    the completed visits checked out on those days."""
    visits = load_completed_visits(
        Q(checked_out_at__gte=day_start(first_day), checked_out_at__lt=day_start(end_day)), rep_ids=reps, packed=False
    )
    keys = cell_key(visits["rep"], utc_day(visits["time"]))
    if cells is not None:
        keep = np.isin(keys, cells)
        visits = {name: values[keep] for name, values in visits.items()}
        keys = keys[keep]
    events = load_events(
        None if cells is None else np.unique(visits["customer"]),
        packed=False,
        since=day_start(first_day),
        until=day_start(end_day) + timedelta(seconds=HORIZON_SECONDS),
    )
    hits = visits_with_effect(visits["customer"], visits["time"], events["customer"], events["time"], HORIZON_SECONDS)
    unique, group = np.unique(keys, return_inverse=True)
    hit_count, count = effect_counts_by_group(hits, group.reshape(-1), len(unique))
    return unique, np.column_stack([count, hit_count])


def _sums_by_cell(*parts: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The union of the parts' cell keys, and each part's columns side by side (0 where a part has no such cell)."""
    unique = np.unique(np.concatenate([keys for keys, _ in parts]))
    sums = np.zeros((len(unique), sum(values.shape[1] for _, values in parts)), dtype=np.int64)
    column = 0
    for keys, values in parts:
        sums[np.searchsorted(unique, keys), column : column + values.shape[1]] = values
        column += values.shape[1]
    return unique, sums


def _mark_days_from(today: int) -> None:
    """Mark every (rep, day) with visits from today on, so each is stored once it closes.

    Visits written before the triggers existed (a database migrated with data) have no
    marks; the rebuild stores their closed days and this covers the rest.
    """
    with connection.cursor() as cursor:
        for column in ("planned_start", "checked_out_at"):
            cursor.execute(
                f"INSERT INTO {_table(VisitDayMark)} ({_q('rep_id')}, {_q('day')}) "  # noqa: S608
                f"SELECT DISTINCT {_q('rep_id')}, {_epoch_day_sql(column)} FROM {_table(Visit)} "
                f"WHERE {_q(column)} >= %s",
                [day_start(today)],
            )


def _epoch_day_sql(column: str) -> str:
    """The UTC day of a timestamp column in SQL, as the migration's triggers compute it."""
    if connection.vendor == "postgresql":
        return f"floor(extract(epoch FROM {_q(column)}) / 86400)::integer"
    return f"CAST(julianday(date({_q(column)})) - 2440587.5 AS INTEGER)"


def _take_marks(today: int) -> np.ndarray:
    """Delete the marks of closed days and return their distinct (rep, day) keys."""
    marks = _table(VisitDayMark)
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {marks} WHERE {_q('day')} < %s RETURNING {_q('rep_id')}, {_q('day')}",  # noqa: S608
            [today],
        )
        rows = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
    return np.unique(cell_key(rows[:, 0], rows[:, 1]))


def _subset(arrays, keep: np.ndarray):
    return type(arrays)(**{name: value[keep] for name, value in vars(arrays).items()})


def _delete_terms(cells: np.ndarray) -> None:
    reps, days = split_cell_key(cells)
    condition = Q(pk__in=[])
    for day in np.unique(days).tolist():
        condition |= Q(day=day, rep_id__in=reps[days == day].tolist())
    VisitDayTerms.objects.filter(condition).delete()


def _insert_terms(unique: np.ndarray, sums: np.ndarray) -> int:
    """Insert the non-empty sums (a day whose every term is 0 adds nothing to any window)."""
    nonzero = sums.any(axis=1)
    reps, days = split_cell_key(unique[nonzero])
    rows = np.column_stack([reps, days, sums[nonzero]]).tolist()
    columns = ", ".join(_q(name) for name in ("rep_id", "day", *_STORED_COLUMNS))
    placeholders = ", ".join(["%s"] * (2 + len(_STORED_COLUMNS)))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            copy_sql = f"COPY {_table(VisitDayTerms)} ({columns}) FROM STDIN"
            with cursor.cursor.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            for start in range(0, len(rows), _INSERT_BATCH):
                cursor.executemany(
                    f"INSERT INTO {_table(VisitDayTerms)} ({columns}) VALUES ({placeholders})",  # noqa: S608
                    rows[start : start + _INSERT_BATCH],
                )
    return len(rows)
