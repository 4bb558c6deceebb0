"""The pipeline load's row order: opportunities by id, changes by opportunity, time then id, on every database."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection

from analytics import bridge
from sales.models import Opportunity, Stage, StageChange
from tests.analytics.kpi_world import D0, PERIOD_END, build_world, day


@pytest.fixture
def world(db):
    return build_world()


def test_loaded_changes_come_by_opportunity_time_then_id_whatever_the_table_order(world):
    stages = {stage.code: stage for stage in Stage.objects.all()}
    b3 = Opportunity.objects.get(owner=world.bob, amount=1000)
    # Inserted late but dated early; then a tie on the time whose first row an update moves in the table.
    StageChange.objects.create(opportunity=b3, to_stage=stages["communication"], changed_at=day(26))
    StageChange.objects.create(opportunity=b3, to_stage=stages["follow-up"], changed_at=day(-1))
    first = StageChange.objects.create(opportunity=b3, to_stage=stages["communication"], changed_at=day(28))
    StageChange.objects.create(opportunity=b3, to_stage=stages["discovery"], changed_at=day(28))
    StageChange.objects.filter(pk=first.pk).update(changed_by=world.bob)

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
    # (SQLite's times are rounded to the millisecond)
    np.testing.assert_allclose(changes.changed_at, [row[2].timestamp() for row in expected], rtol=0, atol=1e-3)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the plan is PostgreSQL's")
def test_a_teams_history_is_read_from_the_index_alone_in_order(world):
    # The load's statement, as EXPLAIN sees it: one index-only scan and no sort (sales migration 0005).
    # (A test's few rows, without statistics, would be read from the table or a bitmap: the index's
    # shape is the point here; the benchmark database plans it so by itself.)
    ids = list(Opportunity.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # And no sort: with the table's statistics as earlier tests left them (a flushed table counts no
        # visible page), a sort of the few rows can cost less than the index; only this index gives the order.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_incremental_sort = off")
        cursor.execute(
            "EXPLAIN SELECT opportunity_id, to_stage_id, changed_at FROM sales_stagechange "
            "WHERE opportunity_id = ANY((SELECT %s::int8[])::int8[]) ORDER BY opportunity_id, changed_at, id",
            ["{" + ",".join(map(str, ids)) + "}"],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using stagechange_history_idx" in plan
    assert "Sort" not in plan
