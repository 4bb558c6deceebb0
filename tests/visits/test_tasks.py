"""The planning run as Celery runs it: chunks, progress, retries, a failing chunk (tasks in-process)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from celery.exceptions import Retry

from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from tests.factories import CustomerFactory, RepProfileFactory
from visits import services
from visits.models import Visit
from visits.tasks import plan_chunk, plans_dispatch

AS_OF = datetime(2026, 11, 23, 2, 0, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def eager(eager_celery, settings):
    settings.FIELDWISE_PLANNER_CHUNK_REPS = 2
    settings.FIELDWISE_TASK_RETRY_SECONDS = 0


@pytest.fixture
def five_reps(db):
    policy = ScoringPolicy.objects.get(active=True)
    scoring = PlanRun.objects.create(kind="scores", status="succeeded", as_of=AS_OF, policy=policy)
    reps = [RepProfileFactory().user for _ in range(5)]
    for rep in reps:
        for p in (1.0, 2.0):
            CustomerScore.objects.create(
                customer=CustomerFactory(owner=rep),
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
    return reps


def start_and_dispatch():
    run, chunks = services.plans_run_start(as_of=AS_OF)
    plans_dispatch(run_id=run.pk, chunks=chunks, as_of=AS_OF)
    run.refresh_from_db()
    return run, chunks


def test_a_run_plans_every_rep_in_chunks_and_succeeds(eager, five_reps):
    run, chunks = start_and_dispatch()
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert (run.status, run.done, run.total, run.error) == ("succeeded", 5, 5, "")
    assert Visit.objects.filter(plan_run=run).count() == 10


def failing_for(monkeypatch, rep_id, calls):
    real = services.plans_build

    def flaky(*, rep_ids, **kwargs):
        if rep_id in rep_ids:
            calls.append(rep_ids)
            raise RuntimeError("geocoder down")
        return real(rep_ids=rep_ids, **kwargs)

    monkeypatch.setattr(services, "plans_build", flaky)


def test_a_chunk_failing_past_its_retries_is_recorded_while_the_others_finish(eager, five_reps, monkeypatch):
    # In-process tasks cannot wait for a retry's countdown: give up at once here; the
    # worker test runs the real retries.
    monkeypatch.setattr(plan_chunk, "max_retries", 0)
    calls = []
    failing_for(monkeypatch, five_reps[2].pk, calls)
    run, _ = start_and_dispatch()
    assert len(calls) == 1
    assert run.status == "failed"
    assert "RuntimeError: geocoder down" in run.error
    assert run.done == 3  # the two healthy chunks
    planned_reps = set(Visit.objects.filter(plan_run=run).values_list("rep_id", flat=True))
    assert planned_reps == {five_reps[i].pk for i in (0, 1, 4)}


def test_a_failing_chunk_is_retried_with_exponential_backoff(eager, five_reps, monkeypatch, settings):
    settings.FIELDWISE_TASK_RETRY_SECONDS = 30
    failing_for(monkeypatch, five_reps[0].pk, [])
    run, chunks = services.plans_run_start(as_of=AS_OF)
    countdowns = []

    def record_retry(*, exc, countdown):
        countdowns.append(countdown)
        return Retry(exc=exc, when=countdown)

    monkeypatch.setattr(plan_chunk, "retry", record_retry)
    for attempt in range(3):
        result = plan_chunk.apply(args=(run.pk, chunks[0], AS_OF.isoformat()), retries=attempt, throw=False)
        assert result.state == "RETRY"
    assert countdowns == [30, 60, 120]
    final = plan_chunk.apply(args=(run.pk, chunks[0], AS_OF.isoformat()), retries=3)
    assert final.get() == {"reps": 2, "failed": True}
    run.refresh_from_db()
    assert "geocoder down" in run.error


def test_no_reps_still_closes_the_run(eager, db):
    run, chunks = start_and_dispatch()
    assert chunks == []
    assert run.status == "succeeded"
