"""Loads run on a second database connection while the caller goes on with its own.

The dashboard spends most of its time waiting on PostgreSQL, one statement after the
other, while the machine's other core sits idle. Inside `load_lane()`, the loads a
caller starts with `beside()` run in order on one more thread with its own connection
(the lane), while the caller's thread runs the rest. Every figure is the same either
way: only when the loads run changes.

One lane, not one thread per load: on two cores, two streams of work keep both busy;
four contend (measured: the pipeline's opportunities took 45 ms alone and up to 160 ms
beside three other loads).

A load goes to the lane only:
- inside a `load_lane()` block (the dashboard's views open one);
- on PostgreSQL (SQLite serialises its connections anyway);
- outside a transaction, since another connection cannot see its uncommitted
  writes (every test that uses the `db` fixture runs inside one);
- while one of the process's lanes is free: it keeps at most `FIELDWISE_PARALLEL_LOADS`
  (0: none), so that a busy server, whose cores are taken anyway, does not open a
  second connection for every request.
Anywhere else, and when called from the lane itself, a load runs in the caller's
thread when its result is asked for. Either way each statement sees the data
committed when it runs, as in series: the dashboard reads outside a transaction.

A load keeps the caller's language and time zone. A lane outlives the block, for the
next request, and keeps its connection as a request thread keeps its own (`CONN_MAX_AGE`,
see `_LanePool`). While the caller's connection logs its queries (DEBUG, or a test
counting them), each load's queries are added to that log when its result is taken,
so query counts still cover every statement of a request.
"""

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone, translation

T = TypeVar("T")
logger = logging.getLogger(__name__)

_local = threading.local()  # .lane: the lane of this thread's `load_lane` block


class Pending(Generic[T]):
    """A load started by `beside`; `result()` waits for it (or runs it, when it has no lane)."""

    def __init__(self, load: Callable[[], T], *, lane: "_Lane | None") -> None:
        self._load = load
        self.lane = lane
        self._language = translation.get_language()
        self._zone = timezone.get_current_timezone()
        self._log_queries = connection.queries_logged
        self._done = threading.Event()
        self._taken = False
        self._value: T | None = None
        self._error: BaseException | None = None
        self._queries: list[dict] = []

    def run(self) -> None:
        """Run the load here, in this thread, on this thread's connection."""
        own = connections["default"]
        if self.lane is not None:
            own.force_debug_cursor = self._log_queries
            own.queries_log.clear()
        try:
            with translation.override(self._language), timezone.override(self._zone):
                self._value = self._load()
        except BaseException as error:  # noqa: BLE001 - raised in the caller's thread by result()
            self._error = error
        finally:
            if self.lane is not None and self._log_queries:
                self._queries = list(own.queries_log)
            self._done.set()

    def wait(self) -> None:
        """Wait for the load to end and hand its queries to the caller's log (once)."""
        if self.lane is None and not self._done.is_set():
            self.run()
        self._done.wait()
        if not self._taken:
            self._taken = True
            connection.queries_log.extend(self._queries)

    def result(self) -> T:
        self.wait()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


def _close_connections() -> None:
    """Close this thread's connections; one that cannot close cleanly is gone anyway."""
    for own in connections.all(initialized_only=True):
        try:
            own.close()
        except Exception:  # noqa: BLE001 - a broken connection; Django has already let go of it
            logger.warning("A load lane's connection did not close cleanly", exc_info=True)


class _Lane:
    """One thread with its own connection, running the tasks handed to it in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="fieldwise-load-lane", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            while (task := self._queue.get()) is not None:
                try:
                    task()
                except Exception:  # the lane goes on: a caller may be waiting on a later task
                    logger.exception("A load lane task failed; the lane's connection is dropped")
                    _close_connections()
        finally:
            _close_connections()

    def submit(self, task: Callable[[], None]) -> None:
        self._queue.put(task)

    def wait_for(self, task: Callable[[], None]) -> None:
        """Run `task` on the lane after what was handed to it before, and wait until it has run."""
        done = threading.Event()

        def then_signal() -> None:
            try:
                task()
            finally:
                done.set()

        self.submit(then_signal)
        done.wait()

    def close(self) -> None:
        self.submit(None)
        self._thread.join()


class _LanePool:
    """The process's lanes: at most `FIELDWISE_PARALLEL_LOADS`, kept between requests.

    A lane keeps its connection as a request thread does: Django's `close_old_connections`
    runs on it when a request takes it and when it gives it back, so `CONN_MAX_AGE` and
    the health checks apply. A kept connection spares the next request the connect and
    the new server process's cold caches (measured: 5-19 ms more for the visit effect's loads).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[_Lane] = []
        self._count = 0  # idle and taken
        self._pid = os.getpid()

    def take(self) -> _Lane | None:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's threads did not come along
                self._idle, self._count, self._pid = [], 0, os.getpid()
            if self._idle:
                lane = self._idle.pop()
            elif self._count < settings.FIELDWISE_PARALLEL_LOADS:
                self._count += 1
                lane = None
            else:
                return None
        if lane is None:
            try:
                lane = _Lane()
            except BaseException:
                with self._lock:
                    self._count -= 1
                raise
        lane.submit(close_old_connections)
        return lane

    def give_back(self, lane: _Lane) -> None:
        lane.wait_for(close_old_connections)
        with self._lock:
            keep = self._count <= settings.FIELDWISE_PARALLEL_LOADS and self._pid == os.getpid()
            if keep:
                self._idle.append(lane)
            else:
                self._count -= 1
        if not keep:
            lane.close()

    def close_idle(self) -> int:
        """Close the idle lanes and their connections; returns how many."""
        with self._lock:
            lanes, self._idle = self._idle, []
            self._count -= len(lanes)
        for lane in lanes:
            lane.close()
        return len(lanes)


_pool = _LanePool()


def close_idle_lanes() -> int:
    """Close the process's idle lanes and their connections (a test's end: its database is about to go)."""
    return _pool.close_idle()


@contextmanager
def load_lane() -> Iterator[bool]:
    """A lane for the `beside` loads started in this block, where one is free; yields whether there is one.

    Inside another `load_lane` block, the outer lane serves.
    """
    if getattr(_local, "lane", None) is not None:
        yield True
        return
    lane = _pool.take() if connection.vendor == "postgresql" else None
    _local.lane = lane
    try:
        yield lane is not None
    finally:
        _local.lane = None
        if lane is not None:
            _pool.give_back(lane)


@contextmanager
def beside(load: Callable[..., T], /, **kwargs) -> Iterator[Pending[T]]:
    """Start `load(**kwargs)` on the lane where it may run there (see the module docstring).

    with beside(load_something, rep_ids=ids) as pending:
        other = load_other(...)  # meanwhile
        value = pending.result()

    The block's end waits for the load, taken or not: none outlives its block.
    """
    lane = getattr(_local, "lane", None)
    if lane is not None and (connection.in_atomic_block or not connection.get_autocommit()):
        lane = None  # the caller may hold writes the lane's connection cannot see
    pending = Pending(lambda: load(**kwargs), lane=lane)
    if lane is not None:
        lane.submit(pending.run)
    try:
        yield pending
    finally:
        if pending.lane is not None:
            pending.wait()
