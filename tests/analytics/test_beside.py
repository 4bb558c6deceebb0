"""Loads on a second connection (`analytics.bridge.beside`): where they run, what they see, and same figures.

The lane needs committed data (another connection cannot see a test transaction's
rows), so these tests run with transaction=True. Only PostgreSQL opens a lane.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from analytics.bridge import beside as beside_module
from analytics.bridge.beside import beside, close_idle_lanes, load_lane
from analytics.kpis import kpi_report
from analytics.visit_effect import visit_effect_report
from crm.models import Customer
from tests.analytics.kpi_world import AFTER, PERIOD_END, PERIOD_START, build_world
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL opens a lane")
LANE = "fieldwise-load-lane"


def where() -> tuple[str, int | None]:
    """The thread a load runs on, and its connection's server process (None on SQLite)."""
    pid = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
    return threading.current_thread().name, pid


def test_a_lane_opens_on_postgresql_only():
    with load_lane() as opened, beside(where) as pending:
        thread, _pid = pending.result()

    assert opened == (connection.vendor == "postgresql")
    assert thread == (LANE if opened else threading.current_thread().name)


@on_postgresql
def test_loads_run_in_order_on_the_lanes_own_connection():
    caller = where()
    ran = []

    def load(n):
        ran.append(n)
        return where()

    with load_lane(), beside(load, n=1) as first, beside(load, n=2) as second:
        mine = where()  # meanwhile, on the caller's connection
        one, two = first.result(), second.result()

    assert ran == [1, 2]
    assert one == two  # one lane: the same thread and connection for both
    assert one[0] == LANE
    assert one[1] != caller[1]
    assert mine == caller


def lanes_connection():
    Customer.objects.exists()
    return connections["default"], where()[1]


@on_postgresql
def test_a_lane_and_its_connection_serve_the_next_request_until_closed():
    with load_lane(), beside(lanes_connection) as pending:
        first, first_pid = pending.result()
        assert first is not connection

    with load_lane(), beside(lanes_connection) as pending:
        second, second_pid = pending.result()

    assert second is first  # the same lane
    assert second_pid == first_pid  # and the same server process
    assert first.connection is not None
    assert close_idle_lanes() == 1
    assert first.connection is None
    assert connection.connection is not None  # the caller's stays open


@on_postgresql
def test_a_lanes_connection_follows_conn_max_age(monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)  # the lane's connection shares the settings

    with load_lane(), beside(lanes_connection) as pending:
        lane_connection, _pid = pending.result()
        assert lane_connection.connection is not None

    assert lane_connection.connection is None  # closed as a request's own would be, at the block's end


@on_postgresql
def test_a_load_sees_committed_rows_and_not_a_transactions_own():
    committed = CustomerFactory()

    with load_lane():
        with beside(lambda: set(Customer.objects.values_list("pk", flat=True))) as pending:
            assert pending.result() == {committed.pk}
        with transaction.atomic():
            uncommitted = CustomerFactory()
            # Inside a transaction the load runs on the caller's connection: it sees the caller's writes.
            with beside(lambda: (where()[0], set(Customer.objects.values_list("pk", flat=True)))) as pending:
                assert pending.result() == (threading.current_thread().name, {committed.pk, uncommitted.pk})


@on_postgresql
def test_queries_on_the_lane_are_counted_in_the_callers_log():
    def two_queries():
        return Customer.objects.count(), Customer.objects.exists()

    with CaptureQueriesContext(connection) as queries, load_lane(), beside(two_queries) as pending:
        Customer.objects.count()
        assert pending.result() == (0, False)

    assert len(queries) == 3


@on_postgresql
def test_a_load_keeps_the_callers_language_and_time_zone():
    def settings_seen():
        return translation.get_language(), timezone.get_current_timezone_name()

    with (
        translation.override("zh-hans"),
        timezone.override("Asia/Shanghai"),
        load_lane(),
        beside(settings_seen) as pending,
    ):
        assert pending.result() == ("zh-hans", "Asia/Shanghai")


@on_postgresql
def test_an_error_in_a_load_is_raised_in_the_caller():
    def failing():
        raise ValueError("bad window")

    with load_lane(), beside(failing) as pending, pytest.raises(ValueError, match="bad window"):
        pending.result()


@on_postgresql
def test_a_block_that_fails_still_waits_for_its_load():
    finished = threading.Event()

    def slow():
        time.sleep(0.05)
        finished.set()

    with pytest.raises(RuntimeError), load_lane(), beside(slow):
        raise RuntimeError("the caller failed")

    assert finished.is_set()


@on_postgresql
def test_a_load_on_the_lane_runs_its_own_loads_inline(threads_of_loads):
    def outer():
        with beside(where) as inner:  # on the lane already: no second lane, no wait on itself
            return inner.result()[0]

    with load_lane(), beside(outer) as pending:
        assert pending.result() == LANE

    assert threads_of_loads == [LANE, LANE]


@on_postgresql
def test_the_setting_caps_the_lanes_a_process_opens(settings):
    settings.FIELDWISE_PARALLEL_LOADS = 1
    other = {}

    def another_request():
        with load_lane() as opened:
            other["opened"] = opened

    with load_lane() as opened:
        with load_lane() as nested:  # the same request: the outer lane serves
            assert nested
        thread = threading.Thread(target=another_request)
        thread.start()
        thread.join()

    assert opened
    assert other == {"opened": False}  # the one lane allowed is taken: that request loads in series
    another_request()
    assert other == {"opened": True}  # given back: free again
    settings.FIELDWISE_PARALLEL_LOADS = 0
    with load_lane() as opened:
        assert opened  # the lane kept from before serves once more: the setting caps the lanes opened
    with load_lane() as opened:
        assert not opened  # a lane given back above the cap was closed


@on_postgresql
def test_a_forked_process_opens_its_own_lanes(monkeypatch):
    with load_lane(), beside(threading.get_ident) as pending:
        parents = pending.result()
    monkeypatch.setattr(beside_module.os, "getpid", lambda: -1)  # as in a child forked after that

    with load_lane(), beside(threading.get_ident) as pending:
        assert pending.result() != parents  # the parent's lane thread did not come along


@on_postgresql
def test_reports_on_a_lane_equal_those_in_series(threads_of_loads):
    world = build_world()
    reps = [world.ann.pk, world.bob.pk, world.cy.pk]
    period = {"period_start": PERIOD_START, "period_end": PERIOD_END, "as_of": AFTER}
    effect_period = {"period_start": PERIOD_START - timedelta(days=60), "period_end": PERIOD_END, "as_of": AFTER}

    serial = kpi_report(rep_ids=reps, **period), visit_effect_report(rep_ids=reps, **effect_period)
    assert set(threads_of_loads) == {threading.current_thread().name}
    threads_of_loads.clear()
    with load_lane(), beside(visit_effect_report, rep_ids=reps, **effect_period) as effect:
        parallel = kpi_report(rep_ids=reps, **period), effect.result()

    assert LANE in threads_of_loads  # the visit effect, the visit sums and the orders
    assert parallel == serial
    ann = parallel[0].reps[0]
    assert pytest.approx(2 / 67) == ann.figures.E  # by hand: tests/analytics/test_kpis.py
    assert parallel[1].n_visits > 0


@on_postgresql
def test_a_failing_task_does_not_stop_the_lane(caplog):
    def broken():
        raise RuntimeError("a connection that would not close")

    served = []

    def request():
        try:
            with load_lane(), beside(where) as pending:
                beside_module._local.lane.submit(broken)  # as close_old_connections failing on the lane
                with beside(where) as after:
                    served.append(after.result()[0])
                served.append(pending.result()[0])
        finally:
            connections.close_all()  # this thread's own, as a request's end does

    thread = threading.Thread(target=request)  # a dead lane would leave it waiting: bounded below
    thread.start()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert served == [LANE, LANE]
    assert "A load lane task failed" in caplog.text
