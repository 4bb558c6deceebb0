"""The planning run on a real Celery worker process, Redis broker and PostgreSQL.

Faults are real too: a row lock held by the test makes a rep's plan swap wait,
so the worker is killed (SIGKILL) in the middle of a transaction, or times out
on the lock and goes through its retries.
"""

import signal
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.db import connection

from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from config.celery import app
from tests.celery_worker import celery_worker, needs_real_services, wait_for, worker_database_url
from tests.factories import CustomerFactory, RepProfileFactory, VisitFactory
from visits import services
from visits.models import Visit
from visits.tasks import plans_dispatch

pytestmark = [needs_real_services, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AS_OF = datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture(autouse=True)
def clean_queue():
    app.control.purge()
    yield
    app.control.purge()


@pytest.fixture
def reps(settings):
    """Four reps, two customers each, in chunks of two reps; each rep has yesterday's plan."""
    settings.FIELDWISE_PLANNER_CHUNK_REPS = 2
    policy = ScoringPolicy.objects.get(active=True)
    old = PlanRun.objects.create(kind="plans", status="succeeded", as_of=AS_OF - timedelta(days=1), policy=policy)
    scoring = PlanRun.objects.create(kind="scores", status="succeeded", as_of=AS_OF, policy=policy)
    users = []
    for _ in range(4):
        rep = RepProfileFactory().user
        for p in (1.0, 2.0):
            customer = CustomerFactory(owner=rep)
            CustomerScore.objects.create(
                customer=customer,
                run=scoring,
                policy=policy,
                t1=0.5,
                t2=1,
                t3=0,
                t4=1,
                t5=45,
                t6=15,
                p=p,
                t=45,
                computed_at=AS_OF,
            )
            VisitFactory(
                customer=customer,
                rep=rep,
                origin="planner",
                plan_run=old,
                planned_start=AS_OF + timedelta(hours=10 + p),
            )
        users.append(rep)
    return users, old


def run_state(run_id):
    return PlanRun.objects.filter(pk=run_id).values_list("status", "done", "total").get()


def plans_by_rep():
    """For each rep, the set of runs its open planner visits come from (one run = a whole plan)."""
    plans = {}
    for rep_id, run_id in Visit.objects.filter(origin="planner", status="planned").values_list("rep_id", "plan_run_id"):
        plans.setdefault(rep_id, set()).add(run_id)
    return plans


def start():
    run, chunks = services.plans_run_start(as_of=AS_OF)
    plans_dispatch(run_id=run.pk, chunks=chunks, as_of=AS_OF)
    return run


def lock_visits_of(rep):
    """Hold row locks on the rep's current plan from another connection until closed."""
    lock = psycopg.connect(worker_database_url().replace("postgres://", "postgresql://"), autocommit=False)
    lock.execute(f"SELECT id FROM {Visit._meta.db_table} WHERE rep_id = %s FOR UPDATE", [rep.pk])  # noqa: S608
    return lock


def test_a_real_worker_plans_every_rep_chunk_by_chunk(reps):
    users, old = reps
    with celery_worker("planner"):
        run = start()
        wait_for(lambda: run_state(run.pk)[0] != "running", what="the planning run to finish")
    assert run_state(run.pk) == ("succeeded", 4, 4)
    assert plans_by_rep() == {rep.pk: {run.pk} for rep in users}
    assert Visit.objects.filter(plan_run=run).count() == 8


def test_sigkill_mid_swap_leaves_no_half_plan_and_a_rerun_completes(reps, settings):
    users, old = reps
    settings.FIELDWISE_PLAN_LEASE_SECONDS = 3
    lock = lock_visits_of(users[1])  # the first chunk's second rep waits on this lock
    try:
        with celery_worker("doomed", env={"PLAN_LEASE_SECONDS": "3"}) as worker:
            run = start()
            # Rep 0 is swapped and committed; rep 1's transaction is open, blocked on the lock.
            wait_for(lambda: Visit.objects.filter(plan_run=run, rep=users[0]).count() == 2, what="rep 0's new plan")
            wait_for(lambda: _waiting_on_lock(), what="the worker to block inside rep 1's swap")
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=20)
    finally:
        lock.close()
    # Nobody sees a half-written plan: each rep has exactly one whole plan, old or new.
    plans = plans_by_rep()
    assert plans[users[0].pk] == {run.pk}
    assert plans[users[1].pk] == {old.pk}
    assert Visit.objects.filter(rep=users[1], origin="planner").count() == 2
    assert all(len(runs) == 1 for runs in plans.values())
    # The dead run is detected once its lease expires; a rerun completes the work.
    wait_for(lambda: PlanRun.objects.get(pk=run.pk).lease_expires_at < _now(), timeout=10, what="lease expiry")
    app.control.purge()
    with celery_worker("rescuer"):
        rerun = start()
        wait_for(lambda: run_state(rerun.pk)[0] != "running", what="the rerun to finish")
    dead = PlanRun.objects.get(pk=run.pk)
    assert dead.status == "failed"
    assert "Lease expired" in dead.error
    assert run_state(rerun.pk) == ("succeeded", 4, 4)
    assert plans_by_rep() == {rep.pk: {rerun.pk} for rep in users}


def test_a_chunk_that_keeps_failing_is_retried_then_reported_while_others_finish(reps):
    users, old = reps
    lock = lock_visits_of(users[3])  # the second chunk cannot swap rep 3: lock timeout each try
    try:
        with celery_worker("retrier", db_options={"lock_timeout": "300"}, env={"TASK_RETRY_SECONDS": "0.2"}) as worker:
            run = start()
            wait_for(lambda: run_state(run.pk)[0] != "running", timeout=90, what="the run to finish")
            log = open(worker.log_path).read()  # noqa: SIM115
    finally:
        lock.close()
    status, done, total = run_state(run.pk)
    assert (status, done, total) == ("failed", 2, 4)
    error = PlanRun.objects.get(pk=run.pk).error
    assert f"reps [{users[2].pk}, {users[3].pk}]" in error
    assert "LockNotAvailable" in error or "lock timeout" in error
    assert log.count("retry in") == 3  # three retries with backoff, then the error is recorded
    assert plans_by_rep()[users[0].pk] == {run.pk}
    assert plans_by_rep()[users[3].pk] == {old.pk}


def _waiting_on_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def _now():
    from django.utils import timezone

    return timezone.now()


def test_the_nightly_job_on_a_real_worker_scores_then_plans(reps):
    from analytics.tasks import nightly

    users, old = reps
    with celery_worker("nightly"):
        nightly.delay(as_of=AS_OF.isoformat())
        run = wait_for(
            lambda: PlanRun.objects.filter(kind="plans", status__in=["succeeded", "failed"]).exclude(pk=old.pk).first(),
            what="the nightly planning run",
        )
    assert (run.status, run.done, run.total) == ("succeeded", 4, 4)
    assert PlanRun.objects.filter(kind="scores", status="succeeded").exclude(as_of__lt=AS_OF).exists()
    assert plans_by_rep() == {rep.pk: {run.pk} for rep in users}


def test_two_simultaneous_triggers_start_one_run(reps):
    import threading

    from django.db import connections

    from analytics.runs import RunInProgress

    barrier = threading.Barrier(2)
    outcomes = []

    def trigger():
        try:
            barrier.wait(timeout=10)
            run, _ = services.plans_run_start(as_of=AS_OF)
            outcomes.append(("started", run.pk))
        except RunInProgress as exc:
            outcomes.append(("refused", exc.run.pk if exc.run else None))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(kind for kind, _ in outcomes) == ["refused", "started"]
    started = next(pk for kind, pk in outcomes if kind == "started")
    assert next(pk for kind, pk in outcomes if kind == "refused") == started
    assert PlanRun.objects.filter(kind="plans", status="running").count() == 1
