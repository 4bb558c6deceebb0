"""The pipeline load's row order: opportunities by id, changes by opportunity, time then id, on every database."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection

from analytics import bridge
from analytics.bridge import pipeline
from analytics.bridge.pipeline import _by_opportunity_then_time
from sales.models import Opportunity, Stage, StageChange
from tests.analytics.kpi_world import D0, PERIOD_END, build_world, day


def _changes(opp, at, pk) -> dict[str, np.ndarray]:
    opp, at, pk = (np.asarray(values) for values in (opp, at, pk))
    return {"opportunity_id": opp, "stage_id": pk * 10, "changed_at": at.astype(np.float64), "pk": pk}


def _expected(change: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort((change["pk"], change["changed_at"], change["opportunity_id"]))
    return {name: values[order] for name, values in change.items()}


def _assert_same(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(got) == list(expected)
    for name in expected:
        assert got[name].tolist() == expected[name].tolist(), name


def test_changes_already_in_order_are_kept_as_they_are():
    change = _changes(opp=[1, 1, 1, 2, 5, 5], at=[0, 1, 1, 0, 3, 4], pk=[7, 3, 9, 1, 2, 8])

    got = _by_opportunity_then_time(change)

    assert got is change
    _assert_same(got, _expected(change))


@pytest.mark.parametrize(
    ("opp", "at", "pk"),
    [
        ([1, 1, 1, 2, 2], [0, 5, 5, 1, 2], [1, 9, 4, 5, 6]),  # a tie on the time: the id decides
        ([1, 1, 1, 2, 2, 3], [0, 5, 4, 2, 1, 0], [1, 2, 3, 4, 5, 6]),  # times out of order in two opportunities
        ([3, 1, 1, 2], [0, 1, 0, 5], [1, 2, 3, 4]),  # opportunities out of order: everything is sorted
        ([], [], []),
        ([4], [1], [1]),
    ],
)
def test_changes_out_of_order_are_sorted_like_the_database_would(opp, at, pk):
    change = _changes(opp=np.array(opp, dtype=np.int64), at=at, pk=np.array(pk, dtype=np.int64))

    _assert_same(_by_opportunity_then_time(change), _expected(change))


def test_many_random_changes_sort_like_lexsort():
    rng = np.random.default_rng(7)
    n = 5000
    opp = np.sort(rng.integers(0, 800, n))  # by opportunity, as the index scan returns them
    at = rng.integers(0, 6, n)  # many ties
    pk = rng.permutation(n)
    change = _changes(opp=opp, at=at, pk=pk)

    _assert_same(_by_opportunity_then_time(change), _expected(change))
    shuffled = rng.permutation(n)
    change = {name: values[shuffled] for name, values in change.items()}
    _assert_same(_by_opportunity_then_time(change), _expected(change))


@pytest.fixture
def world(db):
    return build_world()


def test_loaded_changes_come_by_opportunity_time_then_id_whatever_the_table_order(world, monkeypatch):
    stages = {stage.code: stage for stage in Stage.objects.all()}
    b3 = Opportunity.objects.get(owner=world.bob, amount=1000)
    # Inserted late but dated early; then a tie on the time whose first row an update moves in the table.
    StageChange.objects.create(opportunity=b3, to_stage=stages["communication"], changed_at=day(26))
    StageChange.objects.create(opportunity=b3, to_stage=stages["follow-up"], changed_at=day(-1))
    first = StageChange.objects.create(opportunity=b3, to_stage=stages["communication"], changed_at=day(28))
    StageChange.objects.create(opportunity=b3, to_stage=stages["discovery"], changed_at=day(28))
    StageChange.objects.filter(pk=first.pk).update(changed_by=world.bob)

    arrived = []  # PostgreSQL: the rows as the server sent them, before NumPy sorts them
    sort = pipeline._by_opportunity_then_time
    monkeypatch.setattr(pipeline, "_by_opportunity_then_time", lambda change: arrived.append(change) or sort(change))
    owners = [world.ann.pk, world.bob.pk]
    data = bridge.load_pipeline_arrays(owner_ids=owners, since=D0 - timedelta(days=31), until=PERIOD_END)

    ids = data.opportunities.id.tolist()
    assert ids == sorted(set(ids))
    expected = list(
        StageChange.objects.filter(opportunity_id__in=ids)
        .order_by("opportunity_id", "changed_at", "pk")
        .values_list("opportunity_id", "to_stage_id", "changed_at")
    )
    changes = data.changes
    assert data.opportunities.id[changes.opportunity].tolist() == [row[0] for row in expected]
    assert data.stages.id[changes.stage].tolist() == [row[1] for row in expected]
    if connection.vendor == "postgresql":  # (SQLite sorts in SQL)
        (raw,) = arrived
        sent = list(zip(raw["opportunity_id"].tolist(), raw["stage_id"].tolist(), strict=True))
        assert sent != [row[:2] for row in expected]  # the sort had work to do
    # (SQLite's times are rounded to the millisecond)
    np.testing.assert_allclose(changes.changed_at, [row[2].timestamp() for row in expected], rtol=0, atol=1e-3)
