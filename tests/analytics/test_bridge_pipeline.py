"""The KPI loaders of the bridge: stages, opportunities with their stays, orders and visits, as arrays."""

import math

import numpy as np
import pytest

from analytics import bridge
from analytics.funnel import STILL_IN_STAGE
from analytics.funnel import FunnelStage as S
from sales.models import Opportunity, StageChange
from tests.analytics.kpi_world import AFTER, D0, PERIOD_END, build_world, day

DAY = 86400.0


@pytest.fixture
def world(db):
    return build_world()


def test_stage_codes_fold_an_added_stage_into_the_system_stage_before_it():
    codes = bridge.stage_funnel_codes(
        codes=["qualify", "discovery", "communication", "demo", "follow-up", "negotiation", "won", "lost"],
        is_won=[False] * 6 + [True, False],
        is_lost=[False] * 7 + [True],
    )

    # "qualify" comes before any system stage: Discovery; "demo" and "negotiation" join the stage before them.
    expected = [S.DISCOVERY, S.DISCOVERY, S.COMMUNICATION, S.COMMUNICATION, S.FOLLOW_UP, S.FOLLOW_UP, S.WON, S.LOST]
    assert codes.tolist() == expected


def test_pipeline_arrays_of_two_reps(world):
    data = bridge.load_pipeline_arrays(owner_ids=[world.bob.pk], since=D0, until=PERIOD_END)

    opp = data.opportunities
    assert opp.amount.tolist() == [5000.0, 3000.0, 1000.0, 2000.0]  # ids ascending: B1..B4
    assert set(opp.owner_id.tolist()) == {world.bob.pk}
    assert data.funnel_stage.tolist() == [S.WON, S.LOST, S.DISCOVERY, S.WON]
    assert data.is_open.tolist() == [False, False, True, False]
    assert opp.opened_at[0] == day(-2).timestamp()
    assert opp.closed_at[0] == day(15).timestamp()
    assert math.isnan(opp.closed_at[2])
    assert not opp.probability_manual.any()

    # B1's stays: Discovery [-2, 3), Communication [3, 7), Follow-up [7, 9), Communication [9, 12),
    # Follow-up [12, 15), Won since 15.
    stays = data.stays
    mine = stays.opportunity == 0
    assert stays.stage[mine].tolist() == [
        S.DISCOVERY,
        S.COMMUNICATION,
        S.FOLLOW_UP,
        S.COMMUNICATION,
        S.FOLLOW_UP,
        S.WON,
    ]
    assert ((stays.entered_at[mine] - D0.timestamp()) / DAY).tolist() == [-2, 3, 7, 9, 12, 15]
    left = (stays.left_at[mine] - D0.timestamp()) / DAY
    assert left[:-1].tolist() == [3, 7, 9, 12, 15]
    assert math.isnan(left[-1])
    assert stays.next_stage[mine].tolist() == [S.COMMUNICATION, S.FOLLOW_UP, S.COMMUNICATION, S.FOLLOW_UP, S.WON] + [
        STILL_IN_STAGE
    ]
    assert stays.n_opportunities == 4

    # Orders fulfilled in [since, until): B1's is not fulfilled, so none.
    assert len(data.orders) == 0


def test_a_repeated_entry_is_no_move(world):
    b3 = Opportunity.objects.get(owner=world.bob, amount=1000)
    StageChange.objects.create(opportunity=b3, to_stage=b3.stage, changed_at=day(27))  # Discovery again

    data = bridge.load_pipeline_arrays(owner_ids=[world.bob.pk], since=D0, until=PERIOD_END)

    mine = data.stays.opportunity == 2
    assert data.stays.stage[mine].tolist() == [S.DISCOVERY]
    assert data.stays.entered_at[mine].tolist() == [day(25).timestamp()]
    assert len(data.changes) == 6 + 2 + 2 + 3  # the raw changes keep it


def test_pipeline_arrays_load_only_what_a_period_from_since_can_see(world):
    # Since April 1: Ann's open A3 and A4 (open now), nothing of what closed in March or before.
    data = bridge.load_pipeline_arrays(owner_ids=[world.ann.pk], since=PERIOD_END, until=AFTER)

    assert sorted(data.opportunities.amount.tolist()) == [8000.0, 20000.0]
    assert np.all(data.is_open)
    assert len(data.orders) == 0


def test_orders_and_visits_of_the_reps_asked_for(world):
    data = bridge.load_pipeline_arrays(owner_ids=[world.ann.pk, world.bob.pk], since=day(-31), until=PERIOD_END)
    visits = bridge.load_rep_visit_inputs(
        rep_ids=[world.ann.pk, world.bob.pk], planned_from=day(-31), planned_until=PERIOD_END
    )

    durations = (data.orders.fulfilled_at - data.orders.ordered_at) / DAY
    assert sorted(durations.tolist()) == [4.0, 6.0]  # A1's and A5's; Dee's is another rep's
    assert set(data.orders.owner_id.tolist()) == {world.ann.pk}
    # Ann's V1..V7 and Bob's W1, by rep then planned start.
    assert visits.rep_id.tolist() == [world.ann.pk] * 7 + [world.bob.pk]
    assert visits.completed.tolist() == [True, True, True, True, False, False, False, True]
    assert visits.needs_raised.tolist() == [2, 3, 1, 0, 0, 0, 0, 0]
    assert visits.expected_satisfaction[:3].tolist() == [4, 4, 5]
    assert math.isnan(visits.expected_satisfaction[3])
    assert visits.cancelled_at[4] == day(8, 12).timestamp()
    assert visits.planned_day_start[1] == day(2).timestamp()
    everybody = bridge.load_rep_visit_inputs(rep_ids=None, planned_from=day(-31), planned_until=PERIOD_END)
    assert len(everybody) == 9  # and Dee's
