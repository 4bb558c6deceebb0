"""Run bookkeeping: one live run per kind, leases that expire, progress and errors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import PlanRun
from analytics.runs import RunInProgress, run_finish, run_progress, run_start, runs_expire_stale

LEASE = timedelta(minutes=10)


@pytest.fixture
def started(db):
    return run_start(kind=PlanRun.Kind.PLANS, as_of=timezone.now(), lease=LEASE, total=4)


def test_a_second_run_of_the_same_kind_is_refused_naming_the_live_one(started):
    with pytest.raises(RunInProgress, match=f"#{started.pk} is already running"):
        run_start(kind=PlanRun.Kind.PLANS, as_of=timezone.now(), lease=LEASE)


def test_other_kinds_are_independent(started):
    other = run_start(kind=PlanRun.Kind.NEED_MODEL, as_of=timezone.now(), lease=LEASE)
    assert other.status == PlanRun.Status.RUNNING


def test_an_expired_lease_is_marked_failed_and_a_new_run_starts(started):
    PlanRun.objects.filter(pk=started.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    fresh = run_start(kind=PlanRun.Kind.PLANS, as_of=timezone.now(), lease=LEASE)
    started.refresh_from_db()
    assert started.status == PlanRun.Status.FAILED
    assert "Lease expired" in started.error
    assert fresh.status == PlanRun.Status.RUNNING


def test_progress_adds_up_and_renews_the_lease(started):
    before = started.lease_expires_at
    run_progress(run_id=started.pk, done=2, lease=LEASE)
    run_progress(run_id=started.pk, done=1, lease=LEASE)
    started.refresh_from_db()
    assert started.done == 3
    assert started.lease_expires_at >= before


def test_finish_succeeds_without_errors_and_fails_with_one(started):
    assert run_finish(run_id=started.pk).status == PlanRun.Status.SUCCEEDED
    second = run_start(kind=PlanRun.Kind.PLANS, as_of=timezone.now(), lease=LEASE, total=2)
    run_progress(run_id=second.pk, done=1, lease=LEASE)
    run_progress(run_id=second.pk, done=0, lease=LEASE, error="reps [7]: RuntimeError: boom")
    finished = run_finish(run_id=second.pk)
    assert finished.status == PlanRun.Status.FAILED
    assert finished.error == "reps [7]: RuntimeError: boom\n"
    assert (finished.done, finished.total) == (1, 2)
    assert finished.finished_at is not None


def test_expire_stale_leaves_live_runs_alone(started):
    assert runs_expire_stale(kind=PlanRun.Kind.PLANS) == 0
    started.refresh_from_db()
    assert started.status == PlanRun.Status.RUNNING
