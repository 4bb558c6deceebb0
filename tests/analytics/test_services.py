"""A scoring run end to end: known answers, reruns, failures, the lock and a bounded query count."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analytics import bridge, run_compute, services
from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.services import ScoringRunInProgress, scores_recalculate
from crm.models import Customer
from tests.analytics.scoring_world import AS_OF, DEFAULT_POLICY, build_world, bulk_customers, expected_scores

SCORE_FIELDS = ("t1", "t2", "t3", "t4", "t5", "t6", "p", "t")
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")


@pytest.fixture
def world(rep):
    return build_world(rep)


def stored_scores() -> dict[int, dict[str, float]]:
    return {s.customer_id: {f: getattr(s, f) for f in SCORE_FIELDS} for s in CustomerScore.objects.all()}


def assert_scores_match(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    for pk, row in expected.items():
        for field, value in row.items():
            assert actual[pk][field] == pytest.approx(value, rel=1e-9, abs=1e-12), (pk, field)


def test_run_stores_the_hand_computed_scores_of_every_active_customer(world, rep):
    run = scores_recalculate(as_of=AS_OF, requested_by=rep)

    assert_scores_match(stored_scores(), expected_scores(world.inputs))
    run.refresh_from_db()
    assert run.kind == PlanRun.Kind.SCORES
    assert run.status == PlanRun.Status.SUCCEEDED
    assert (run.total, run.done) == (4, 4)
    assert run.as_of == AS_OF
    assert run.policy.version == 1
    assert run.requested_by == rep
    assert run.error == ""
    assert run.lease_expires_at is None
    assert run.finished_at >= run.started_at
    assert set(CustomerScore.objects.values_list("run_id", flat=True)) == {run.pk}
    assert not CustomerScore.objects.filter(customer=world.delta).exists()


def test_spot_check_of_one_customer_written_out_in_full(world):
    # Gamma: tier C, value 0, never visited, no pipeline, Lille -> Lyon 557.5 km at 40 km/h.
    scores_recalculate(as_of=AS_OF)

    gamma = CustomerScore.objects.get(customer=world.gamma)
    t4 = 0.25 + world.inputs[world.gamma.pk]["km"] / 40
    assert 550 < world.inputs[world.gamma.pk]["km"] < 565
    assert (gamma.t1, gamma.t2, gamma.t3) == (0.0, pytest.approx(3.0), 0.0)
    assert gamma.t4 == pytest.approx(t4)
    assert gamma.p == pytest.approx(0.3 * 3.0 / t4)
    assert gamma.t == pytest.approx(30 + 10 * 0.3 * 3.0 / t4)


def test_rerun_overwrites_rows_and_drops_customers_no_longer_active(world):
    first = scores_recalculate(as_of=AS_OF)
    Customer.objects.filter(pk=world.epsilon.pk).update(status=Customer.Status.INACTIVE)

    second = scores_recalculate(as_of=AS_OF + timedelta(hours=12))

    assert second.pk != first.pk
    assert CustomerScore.objects.count() == 3
    assert set(CustomerScore.objects.values_list("run_id", flat=True)) == {second.pk}
    # Half a day later alpha's urgency grew from 42/30 to 42.5/30.
    assert CustomerScore.objects.get(customer=world.alpha).t2 == pytest.approx(42.5 / 30)


def test_run_with_another_policy_version_uses_its_weights(world):
    policy = {**DEFAULT_POLICY, "weights": (0.2, 0.2, 0.6), "speed_kmh": 60.0, "default_km": 10.0}
    ScoringPolicy.objects.create(version=2, w1=0.2, w2=0.2, w3=0.6, speed_kmh=60, default_travel_km=10)

    run = scores_recalculate(as_of=AS_OF, policy_version=2)

    assert run.policy.version == 2
    assert_scores_match(stored_scores(), expected_scores(world.inputs, policy))
    assert set(CustomerScore.objects.values_list("policy__version", flat=True)) == {2}


def test_unknown_policy_version_raises_before_any_run_is_recorded(world):
    with pytest.raises(ScoringPolicy.DoesNotExist):
        scores_recalculate(as_of=AS_OF, policy_version=99)
    assert not PlanRun.objects.exists()


def test_naive_as_of_is_refused(world):
    with pytest.raises(ValueError, match="aware"):
        scores_recalculate(as_of=AS_OF.replace(tzinfo=None))


def test_run_without_any_active_customer_succeeds_with_zero(db):
    run = scores_recalculate(as_of=AS_OF)
    assert (run.status, run.total, run.done) == (PlanRun.Status.SUCCEEDED, 0, 0)


@pytest.mark.parametrize("n", [10, 1000])
def test_query_count_is_the_same_for_10_and_1000_customers(rep, n, django_assert_max_num_queries):
    bulk_customers(n, owner=rep)

    with django_assert_max_num_queries(24):
        run = scores_recalculate(as_of=AS_OF)

    assert run.done == n
    assert CustomerScore.objects.count() == n


def boom_compute(**kwargs):
    raise RuntimeError("kernel exploded")


def boom_after_save(real_save):
    def save(**kwargs):
        real_save(**kwargs)  # the new rows are written ... then the run fails before commit
        raise RuntimeError("disk full after writing")

    return save


@pytest.mark.parametrize("failure", ["compute", "after_save"])
def test_failed_run_keeps_the_old_scores_and_records_the_error(world, monkeypatch, failure):
    first = scores_recalculate(as_of=AS_OF)
    before = stored_scores()
    if failure == "compute":
        monkeypatch.setattr(run_compute, "scores_compute", boom_compute)
        message = "RuntimeError: kernel exploded"
    else:
        monkeypatch.setattr(bridge, "save_scores", boom_after_save(bridge.save_scores))
        message = "RuntimeError: disk full after writing"

    with pytest.raises(RuntimeError):
        scores_recalculate(as_of=AS_OF + timedelta(days=7))

    assert stored_scores() == before
    assert set(CustomerScore.objects.values_list("run_id", flat=True)) == {first.pk}
    failed = PlanRun.objects.exclude(pk=first.pk).get()
    assert failed.status == PlanRun.Status.FAILED
    assert failed.error == message
    assert (failed.total, failed.done) == (0, 0)
    assert failed.finished_at is not None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_failed_run_rolls_back_a_real_transaction(rep, monkeypatch):
    # Outside the test's wrapping transaction: commit and rollback are the database's own.
    world = build_world(rep)
    first = scores_recalculate(as_of=AS_OF)
    monkeypatch.setattr(bridge, "save_scores", boom_after_save(bridge.save_scores))

    with pytest.raises(RuntimeError):
        scores_recalculate(as_of=AS_OF + timedelta(days=7))

    assert_scores_match(stored_scores(), expected_scores(world.inputs))
    assert set(CustomerScore.objects.values_list("run_id", flat=True)) == {first.pk}
    assert PlanRun.objects.get(status=PlanRun.Status.FAILED).error == "RuntimeError: disk full after writing"


def running_run(*, lease_expires_at) -> PlanRun:
    now = timezone.now()
    return PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES,
        status=PlanRun.Status.RUNNING,
        as_of=AS_OF,
        policy=ScoringPolicy.objects.get(active=True),
        started_at=now - timedelta(minutes=1),
        lease_expires_at=lease_expires_at,
    )


def test_second_run_while_one_holds_a_live_lease_is_refused(world):
    other = running_run(lease_expires_at=timezone.now() + timedelta(minutes=10))

    with pytest.raises(ScoringRunInProgress, match=f"#{other.pk} is already running") as excinfo:
        scores_recalculate(as_of=AS_OF)

    assert excinfo.value.run == other
    assert PlanRun.objects.count() == 1  # nothing recorded for the refused request
    assert not CustomerScore.objects.exists()


def test_a_run_whose_lease_expired_is_marked_failed_and_the_new_run_proceeds(world):
    stale = running_run(lease_expires_at=timezone.now() - timedelta(seconds=1))

    run = scores_recalculate(as_of=AS_OF)

    stale.refresh_from_db()
    assert stale.status == PlanRun.Status.FAILED
    assert "Lease expired" in stale.error
    assert stale.finished_at is not None
    assert run.status == PlanRun.Status.SUCCEEDED
    assert CustomerScore.objects.count() == 4


def test_other_kinds_of_runs_do_not_block_scoring(world):
    PlanRun.objects.create(
        kind=PlanRun.Kind.PLANS,
        status=PlanRun.Status.RUNNING,
        as_of=AS_OF,
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + timedelta(minutes=10),
    )
    assert scores_recalculate(as_of=AS_OF).status == PlanRun.Status.SUCCEEDED


@on_postgresql
@pytest.mark.postgres
def test_advisory_lock_held_by_another_session_refuses_the_run(world):
    import psycopg

    settings_dict = connection.settings_dict
    other = psycopg.connect(
        dbname=settings_dict["NAME"],
        user=settings_dict["USER"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"] or 5432,
        password=settings_dict["PASSWORD"] or None,
        autocommit=True,
    )
    try:
        other.execute("SELECT pg_advisory_lock(%s)", [services.SCORES_WORK_LOCK_KEY])
        with pytest.raises(ScoringRunInProgress, match="Another run is in progress"):
            scores_recalculate(as_of=AS_OF)
    finally:
        other.close()  # the lock dies with the session, as a crashed worker's would

    refused = PlanRun.objects.get()
    assert refused.status == PlanRun.Status.FAILED
    assert "ScoringRunInProgress" in refused.error
    assert not CustomerScore.objects.exists()
    assert scores_recalculate(as_of=AS_OF).status == PlanRun.Status.SUCCEEDED


def test_a_run_or_policy_that_scores_point_to_cannot_be_deleted(world):
    # The score table links to its run and policy without database foreign keys (a per-row
    # check at commit costs seconds at a million rows); the ORM still protects them.
    from django.db.models import ProtectedError

    run = scores_recalculate(as_of=AS_OF)

    with pytest.raises(ProtectedError):
        run.delete()
    with pytest.raises(ProtectedError):
        ScoringPolicy.objects.get(pk=run.policy_id).delete()
    assert CustomerScore.objects.filter(run=run).count() == 4
