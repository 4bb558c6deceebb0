"""`kpi_report` loads the pipeline from the previous period's start only: same figures as from the whole history.

The month view (March 2025) shows twelve months back, but only its monthly won
amounts reach that far, through their own narrow load. Here much of the activity
lies between twelve months and two months back; the report must equal, figure for
figure, the one computed from every opportunity and stage change there is.
"""

from datetime import UTC, datetime

import numpy as np
import pytest

from analytics import bridge
from analytics.funnel import FunnelStage
from analytics.kpis import kpi_report
from sales.models import Opportunity
from tests.analytics.kpi_world import AFTER, PERIOD_END, PERIOD_START, day, opportunity, order
from tests.factories import CustomerFactory, RepProfileFactory, TeamFactory

EVER = datetime(1900, 1, 1, tzinfo=UTC)
LOAD_PIPELINE = bridge.load_pipeline_arrays


def build_history():
    """Two reps' deals from April 2024 to April 2025 (days from March 1, 2025); returns their ids."""
    team = TeamFactory(name="West")
    ann = RepProfileFactory(team=team, user__username="ann").user
    bob = RepProfileFactory(team=team, user__username="bob").user
    ann_customer, bob_customer = CustomerFactory(owner=ann), CustomerFactory(owner=bob)

    # Closed long before the previous period (Jan 29 .. Mar 1): only the monthly series sees them.
    opportunity(ann, ann_customer, 900, [("discovery", -290), ("lost", -280)])  # the first close: May 2024
    old = opportunity(
        ann, ann_customer, 3_000, [("discovery", -300), ("communication", -250), ("follow-up", -200), ("won", -150)]
    )
    order(old, -150, -140)
    opportunity(bob, bob_customer, 500, [("discovery", -120), ("communication", -110), ("won", -100)])
    opportunity(bob, bob_customer, 700, [("discovery", -220), ("won", -70)])
    # Open since long ago: the pipeline now, at the period's start and at its end.
    opportunity(ann, ann_customer, 2_000, [("discovery", -200), ("communication", -100)])
    opportunity(bob, bob_customer, 1_500, [("discovery", -240), ("follow-up", -90)], manual_probability=0.4)
    # 180 days in Communication until March: E counts them all.
    moved = opportunity(
        ann, ann_customer, 4_000, [("discovery", -250), ("communication", -180), ("follow-up", 5), ("won", 20)]
    )
    order(moved, 20, 26)
    # Lost in December, then (odd data) moved again in March: only its stage changes tell it is seen.
    odd = opportunity(ann, ann_customer, 600, [("discovery", -100), ("lost", -90), ("communication", 3), ("lost", 8)])
    Opportunity.objects.filter(pk=odd.pk).update(closed_at=day(-90))
    # In the previous period (one lost on its very first instant) and in March.
    opportunity(bob, bob_customer, 100, [("discovery", -50), ("lost", -31)])
    before = opportunity(bob, bob_customer, 800, [("discovery", -160), ("follow-up", -40), ("won", -20)])
    order(before, -20, -10)
    opportunity(bob, bob_customer, 300, [("discovery", -10), ("lost", 12)])
    opportunity(ann, ann_customer, 250, [("discovery", 2), ("communication", 9)])
    return [ann.pk, bob.pk]


def full_history_pipeline(*, owner_ids, since, until):
    """The pipeline as loaded from the beginning of time: every opportunity with its whole history."""
    return LOAD_PIPELINE(owner_ids=owner_ids, since=EVER, until=until)


def full_history_won_sales(*, owner_ids, closed_from, closed_until):
    """The won deals as the report read them from the full pipeline: every won one, and the first close of all."""
    pipeline = LOAD_PIPELINE(owner_ids=owner_ids, since=EVER, until=closed_until)
    won = pipeline.funnel_stage == FunnelStage.WON
    closed_at = pipeline.opportunities.closed_at
    return bridge.WonSales(
        closed_at=closed_at[won],
        amount=pipeline.opportunities.amount[won],
        first_close=float(np.nanmin(closed_at)) if np.isfinite(closed_at).any() else float("nan"),
    )


@pytest.mark.parametrize("as_of", [AFTER, day(13)], ids=["period over", "period running"])
@pytest.mark.parametrize("team", [True, False], ids=["team", "everybody"])
def test_a_month_view_equals_the_full_history_figure_for_figure(db, monkeypatch, as_of, team):
    reps = build_history()
    rep_ids = reps if team else None
    options = {"rep_ids": rep_ids, "period_start": PERIOD_START, "period_end": PERIOD_END, "as_of": as_of}
    loads = []

    def spy(**kwargs):
        pipeline = LOAD_PIPELINE(**kwargs)
        loads.append((kwargs["since"], pipeline))
        return pipeline

    monkeypatch.setattr(bridge, "load_pipeline_arrays", spy)
    narrow = kpi_report(**options)
    monkeypatch.setattr(bridge, "load_pipeline_arrays", full_history_pipeline)
    monkeypatch.setattr(bridge, "load_won_sales", full_history_won_sales)
    full = kpi_report(**options)

    # The narrowing is real: from the previous period's start (Jan 29), 8 of the 12 opportunities.
    [(since, pipeline)] = loads
    assert since == day(-31)
    assert len(pipeline.opportunities) == 8
    assert Opportunity.objects.count() == 12
    # ... and harmless: every figure, per rep and overall, now and before, the funnel and the months.
    assert narrow.overall == full.overall
    assert narrow.previous == full.previous
    assert narrow.reps == full.reps
    assert narrow.funnel == full.funnel
    assert narrow.monthly == full.monthly
    assert narrow == full
    # What the old activity adds, by hand: E counts the 185 days in Communication before March 6; the odd deal
    # entered Communication in March; the months hold the old wins; sales began in May 2024 (11 or 10 months
    # ago: the months shown end with the last complete one), enough for a forecast.
    assert narrow.overall.as_dict()["E"] == pytest.approx(1 / 185)
    assert [row.entered for row in narrow.funnel][1] == 2
    by_month = dict(zip(narrow.monthly.months, narrow.monthly.won_amount, strict=True))
    assert [by_month[month] for month in ("2024-10", "2024-11", "2024-12", "2025-02")] == [3_000, 500, 700, 800]
    assert narrow.monthly.months_of_data == (11 if as_of == AFTER else 10)
    assert narrow.monthly.forecast
