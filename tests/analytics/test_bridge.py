"""The bridge on a database whose answers are known: inputs in, score rows out, bounded queries."""

import math
import struct

import numpy as np
import pytest

from analytics import bridge
from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.run_compute import ScoreArrays, ScoringInputs
from tests.analytics.scoring_world import AS_OF, LILLE, PARIS, VERSAILLES, build_world, bulk_customers
from tests.factories import CustomerFactory


@pytest.fixture
def world(rep):
    return build_world(rep)


@pytest.fixture
def policy(db):
    return ScoringPolicy.objects.get(active=True)


def new_run(policy) -> PlanRun:
    return PlanRun.objects.create(kind="scores", status="running", as_of=AS_OF, policy=policy, started_at=AS_OF)


def by_customer(inputs: ScoringInputs) -> dict[int, int]:
    return {int(pk): i for i, pk in enumerate(inputs.customer_id)}


def test_load_reads_every_active_customers_inputs(world):
    inputs = bridge.load_scoring_inputs(as_of=AS_OF)

    index = by_customer(inputs)
    assert set(index) == {world.alpha.pk, world.beta.pk, world.gamma.pk, world.epsilon.pk}  # delta is inactive
    assert inputs.customer_id.dtype == np.int64
    assert inputs.tier_index.dtype == np.int8
    a, b, g, e = (index[c.pk] for c in (world.alpha, world.beta, world.gamma, world.epsilon))
    assert inputs.tier_index[[a, b, g, e]].tolist() == [0, 1, 2, 1]
    assert inputs.annual_value[[a, b, g, e]].tolist() == [120000.0, 30000.0, 0.0, 500.0]
    assert inputs.cadence_days[[a, b, g, e]].tolist() == [30.0, 14.0, 60.0, 30.0]
    # Latest completed check-out at or before as_of, in fractional days; never visited = inf.
    assert inputs.days_since_last_visit[a] == pytest.approx(42.0, abs=1e-6)
    assert inputs.days_since_last_visit[b] == pytest.approx(3.25, abs=1e-6)
    assert inputs.days_since_last_visit[g] == math.inf
    assert inputs.days_since_last_visit[e] == pytest.approx(30.0, abs=1e-6)
    # Open pipeline: 10,000 x 0.10 + 20,000 x 0.50 (hand-set); won/lost excluded; stage default beats 0.90.
    assert inputs.weighted_open_pipeline[[a, b, g, e]].tolist() == pytest.approx([11000.0, 4800.0, 0.0, 0.0])
    assert (inputs.latitude[a], inputs.longitude[a]) == VERSAILLES
    assert math.isnan(inputs.latitude[b])
    assert math.isnan(inputs.longitude[b])
    assert (inputs.base_latitude[a], inputs.base_longitude[a]) == PARIS
    assert (inputs.base_latitude[g], inputs.base_longitude[g]) == LILLE
    assert math.isnan(inputs.base_latitude[e])
    assert math.isnan(inputs.base_longitude[e])


def test_load_by_ids_reads_those_customers_whatever_their_status(world):
    inputs = bridge.load_scoring_inputs(as_of=AS_OF, customer_ids=[world.delta.pk, world.alpha.pk])

    index = by_customer(inputs)
    assert set(index) == {world.delta.pk, world.alpha.pk}
    assert inputs.weighted_open_pipeline[index[world.delta.pk]] == pytest.approx(90000 * 0.6)
    assert inputs.days_since_last_visit[index[world.delta.pk]] == pytest.approx(1.0, abs=1e-6)
    assert inputs.weighted_open_pipeline[index[world.alpha.pk]] == pytest.approx(11000.0)


def test_load_on_an_empty_database_gives_empty_arrays(db):
    inputs = bridge.load_scoring_inputs(as_of=AS_OF)

    assert len(inputs) == 0
    assert inputs.customer_id.dtype == np.int64
    assert inputs.days_since_last_visit.shape == (0,)


def test_load_refuses_a_naive_as_of(db):
    with pytest.raises(ValueError, match="aware"):
        bridge.load_scoring_inputs(as_of=AS_OF.replace(tzinfo=None))


def scores(n: int, offset: float) -> ScoreArrays:
    base = np.arange(n, dtype=np.float64) + offset
    return ScoreArrays(
        t1=base / 10, t2=base / 5, t3=base / 20, t4=base + 0.25, t5=base + 30, t6=base + 10, p=base, t=base * 7
    )


def test_save_upserts_every_row_then_replaces_the_table(rep, policy):
    customers = [CustomerFactory(owner=rep) for _ in range(3)]
    ids = np.array([c.pk for c in customers], dtype=np.int64)
    first = new_run(policy)

    written = bridge.save_scores(run=first, policy=policy, computed_at=AS_OF, customer_ids=ids, scores=scores(3, 1.0))

    assert written == 3
    rows = {s.customer_id: s for s in CustomerScore.objects.all()}
    assert set(rows) == set(ids.tolist())
    second_row = rows[customers[1].pk]
    assert (second_row.t1, second_row.t2, second_row.t3, second_row.t4) == pytest.approx((0.2, 0.4, 0.1, 2.25))
    assert (second_row.t5, second_row.t6, second_row.p, second_row.t) == pytest.approx((32.0, 12.0, 2.0, 14.0))
    assert second_row.run_id == first.pk
    assert second_row.policy_id == policy.pk
    assert second_row.computed_at == AS_OF

    # Second write: customer 1 is gone (inactive), the others are overwritten in place.
    second = new_run(policy)
    keep = ids[[0, 2]]
    bridge.save_scores(run=second, policy=policy, computed_at=AS_OF, customer_ids=keep, scores=scores(2, 5.0))

    rows = {s.customer_id: s for s in CustomerScore.objects.all()}
    assert set(rows) == set(keep.tolist())
    assert [rows[pk].p for pk in keep.tolist()] == [5.0, 6.0]
    assert {s.run_id for s in rows.values()} == {second.pk}


def test_save_refuses_misaligned_arrays(rep, policy):
    customer = CustomerFactory(owner=rep)
    with pytest.raises(ValueError, match="aligned"):
        bridge.save_scores(
            run=new_run(policy),
            policy=policy,
            computed_at=AS_OF,
            customer_ids=np.array([customer.pk]),
            scores=scores(2, 0.0),
        )
    assert not CustomerScore.objects.exists()


@pytest.mark.parametrize("n", [10, 1000])
def test_load_and_save_take_the_same_number_of_queries_for_10_and_1000(rep, policy, n, django_assert_max_num_queries):
    bulk_customers(n, owner=rep)
    run = new_run(policy)

    with django_assert_max_num_queries(10):
        inputs = bridge.load_scoring_inputs(as_of=AS_OF)
        bridge.save_scores(
            run=run, policy=policy, computed_at=AS_OF, customer_ids=inputs.customer_id, scores=scores(n, 0.0)
        )

    assert len(inputs) == n
    assert CustomerScore.objects.count() == n


def copy_stream(rows: list[tuple[int, float]], *, null_second: bool = False) -> bytes:
    body = b""
    for pk, value in rows:
        body += struct.pack(">h", 2) + struct.pack(">iq", 8, pk)
        body += struct.pack(">i", -1) if null_second else struct.pack(">id", 8, value)
    return bridge._COPY_HEADER + body + bridge._COPY_TRAILER


def test_decode_binary_copy_reads_big_endian_rows_into_native_arrays():
    columns = (("id", ">i8"), ("value", ">f8"))

    decoded = bridge._decode_binary_copy(copy_stream([(7, 1.5), (2**40, -0.25)]), columns)

    assert decoded["id"].tolist() == [7, 2**40]
    assert decoded["value"].tolist() == [1.5, -0.25]
    assert decoded["value"].dtype == np.dtype("float64")


def test_decode_binary_copy_refuses_nulls_rather_than_misreading_them():
    with pytest.raises(ValueError, match="fixed width|NULL"):
        bridge._decode_binary_copy(copy_stream([(7, 1.5)], null_second=True), (("id", ">i8"), ("value", ">f8")))
