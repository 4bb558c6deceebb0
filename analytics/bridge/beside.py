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
- while fewer than `FIELDWISE_PARALLEL_LOADS` lanes are open in the process
  (0: none), so that a busy server, whose cores are taken anyway, does not open
  a second connection for every request.
Anywhere else, and when called from the lane itself, a load runs in the caller's
thread when its result is asked for. Either way each statement sees the data
committed when it runs, as in series: the dashboard reads outside a transaction.

A load keeps the caller's language and time zone. The lane's connection is closed
when the lane ends. While the caller's connection logs its queries (DEBUG, or a test
counting them), each load's queries are added to that log when its result is taken,
so query counts still cover every statement of a request.
"""

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone, translation

T = TypeVar("T")

_open_lanes = 0
_open_lanes_lock = threading.Lock()
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


class _Lane:
    """One thread with its own connection, running the loads handed to it in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="fieldwise-load-lane", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            while (pending := self._queue.get()) is not None:
                pending.run()
        finally:
            connections.close_all()  # this thread's connections only

    def submit(self, pending: Pending) -> None:
        self._queue.put(pending)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


def _lane_opens() -> bool:
    global _open_lanes  # noqa: PLW0603 - the process-wide count of open lanes
    with _open_lanes_lock:
        if _open_lanes >= settings.FIELDWISE_PARALLEL_LOADS:
            return False
        _open_lanes += 1
        return True


def _lane_closed() -> None:
    global _open_lanes  # noqa: PLW0603
    with _open_lanes_lock:
        _open_lanes -= 1


@contextmanager
def load_lane() -> Iterator[bool]:
    """A lane for the `beside` loads started in this block, where one may open; yields whether there is one.

    Inside another `load_lane` block, the outer lane serves.
    """
    outer = getattr(_local, "lane", None)
    if outer is not None:
        yield True
        return
    lane = None
    if connection.vendor == "postgresql" and _lane_opens():
        try:
            lane = _Lane()
        except BaseException:
            _lane_closed()
            raise
    _local.lane = lane
    try:
        yield lane is not None
    finally:
        _local.lane = None
        if lane is not None:
            lane.close()
            _lane_closed()


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
        lane.submit(pending)
    try:
        yield pending
    finally:
        if pending.lane is not None:
            pending.wait()
