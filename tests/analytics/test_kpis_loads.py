"""`kpi_report`'s loads: the monthly won deals from the pipeline when it holds them; orders by their deal's owner.

A year view's pipeline loads from two years back, so it already holds the deals won
in the twelve months shown: the report then skips their own load
(`bridge.load_won_sales`), figure for figure the same. The first close ever, which
decides how many months the forecast fits, may predate the pipeline: only a loaded
close before the second month shown settles it without the load.
"""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import bridge, kpis
from analytics.kpis import kpi_report
from sales.models import Opportunity
from tests.analytics.kpi_world import AFTER, PERIOD_END, PERIOD_START, day, opportunity, order
from tests.factories import CustomerFactory, RepProfileFactory, TeamFactory

# A year view: months shown April 2024 (day -334) .. March 2025; the pipeline loads from April 2, 2023 (day -699).
YEAR_START = datetime(2024, 4, 1, tzinfo=UTC)
LOAD_WON_SALES = bridge.load_won_sales
LOAD_PIPELINE = bridge.load_pipeline_arrays


def team_of_two():
    team = TeamFactory(name="West")
    ann = RepProfileFactory(team=team, user__username="ann").user
    bob = RepProfileFactory(team=team, user__username="bob").user
    return ann, bob, CustomerFactory(owner=ann), CustomerFactory(owner=bob)


def build_sales(history: str) -> list[int]:
    """Won deals across the months shown (amounts whose float sum depends on the order), and a history start."""
    ann, bob, ann_customer, bob_customer = team_of_two()
    if history in ("loaded close before the second month", "first close before the pipeline only"):
        opportunity(bob, bob_customer, 50, [("discovery", -820), ("lost", -800)])  # not loaded: the first close
    if history == "loaded close before the second month":
        opportunity(ann, ann_customer, 70, [("discovery", -330), ("lost", -320)])  # April 2024
        # Lost in April 2024, then (odd data) moved again in March 2025: a month view loads it too.
        odd = opportunity(
            ann, ann_customer, 60, [("discovery", -315), ("lost", -310), ("communication", 3), ("lost", 8)]
        )
        Opportunity.objects.filter(pk=odd.pk).update(closed_at=day(-310))
    first = -250 if history != "sales began within the months" else -150  # July or October 2024
    opportunity(ann, ann_customer, 40, [("discovery", first - 5), ("won", first)])
    for n, amount in enumerate(("0.10", "0.30", "123.45", "0.20", "0.70")):
        owner, customer = (ann, ann_customer) if n % 2 else (bob, bob_customer)
        opportunity(owner, customer, amount, [("discovery", -200), ("communication", -120), ("won", -100 + n)])
    opportunity(bob, bob_customer, 900, [("discovery", -90), ("won", -59)])  # on January 1, 2025: in January
    opportunity(ann, ann_customer, 800, [("discovery", -10), ("won", 31)])  # April 2025: after the months
    opportunity(ann, ann_customer, 600, [("discovery", -30), ("communication", -20)])  # open
    other = RepProfileFactory(user__username="dee").user  # another team's: everybody's view only
    opportunity(other, CustomerFactory(owner=other), 300, [("discovery", -50), ("won", -45)])
    return [ann.pk, bob.pk]


def report_and_loads(monkeypatch, **options):
    calls = []

    def spy(**kwargs):
        calls.append(kwargs)
        return LOAD_WON_SALES(**kwargs)

    monkeypatch.setattr(bridge, "load_won_sales", spy)
    with CaptureQueriesContext(connection) as queries:
        report = kpi_report(**options)
    return report, len(calls), len(queries)


@pytest.mark.parametrize(
    ("history", "view", "loaded", "months_of_data"),
    [
        ("loaded close before the second month", "year", False, 12),
        ("first close before the pipeline only", "year", True, 12),  # its time counts: the pipeline lacks it
        ("sales began within the months", "year", True, 6),  # October 2024 .. March 2025
        # Its pipeline, from January 2025, holds the odd deal closed in April 2024, but not the months' won deals.
        ("loaded close before the second month", "month", True, 12),
    ],
)
@pytest.mark.parametrize("team", [True, False], ids=["team", "everybody"])
def test_the_won_deals_come_from_the_pipeline_only_when_it_holds_them(
    db, monkeypatch, history, view, loaded, months_of_data, team
):
    reps = build_sales(history)
    options = {
        "rep_ids": reps if team else None,
        "period_start": YEAR_START if view == "year" else PERIOD_START,
        "period_end": PERIOD_END,
        "as_of": AFTER,
    }

    report, load_calls, queries = report_and_loads(monkeypatch, **options)
    monkeypatch.setattr(kpis, "_won_deals_in_pipeline", lambda *args: None)  # the load, always
    loading, _, queries_loading = report_and_loads(monkeypatch, **options)

    assert load_calls == (1 if loaded else 0)
    assert queries == queries_loading - (0 if loaded else 1)
    assert report == loading
    assert report.monthly.months_of_data == months_of_data
    by_month = dict(zip(report.monthly.months, report.monthly.won_amount, strict=True))
    assert by_month["2024-11"] == 0.1 + 0.3 + 123.45 + 0.2 + 0.7  # ids ascending: 124.75000000000001
    assert by_month["2025-01"] == (900 if team else 900 + 300)
    assert by_month["2025-03"] == 0  # April's deal is after the months shown


def test_orders_go_by_their_deals_owner_also_for_deals_the_pipeline_did_not_load(db, monkeypatch):
    """A deal won before the pipeline's start whose order is fulfilled in a period: O counts it."""
    ann, bob, ann_customer, bob_customer = team_of_two()
    late = opportunity(ann, ann_customer, 1_000, [("discovery", -70), ("won", -60)])
    order(late, -60, 4)  # fulfilled in March after 64 days
    earlier = opportunity(bob, bob_customer, 500, [("discovery", -50), ("won", -40)])
    order(earlier, -40, -21)  # in the previous period after 19 days
    recent = opportunity(ann, ann_customer, 700, [("discovery", -5), ("won", 2)])
    order(recent, 2, 6)  # 4 days
    dee = RepProfileFactory(user__username="dee").user  # another team's: not the team's orders
    order(opportunity(dee, CustomerFactory(owner=dee), 300, [("discovery", -70), ("won", -60)]), -60, 5)
    loads = []

    def spy(**kwargs):
        loads.append(LOAD_PIPELINE(**kwargs))
        return loads[-1]

    monkeypatch.setattr(bridge, "load_pipeline_arrays", spy)
    report = kpi_report(rep_ids=[ann.pk, bob.pk], period_start=PERIOD_START, period_end=PERIOD_END, as_of=AFTER)

    [pipeline] = loads
    assert recent.pk in pipeline.opportunities.id
    assert late.pk not in pipeline.opportunities.id
    assert earlier.pk not in pipeline.opportunities.id
    assert len(pipeline.orders) == 3
    assert report.overall.as_dict()["O"] == pytest.approx(2 / 68)
    assert report.previous.as_dict()["O"] == pytest.approx(1 / 19)
    by_rep = {rep.username: rep for rep in report.reps}
    assert by_rep["ann"].figures.as_dict()["O"] == pytest.approx(2 / 68)
    assert by_rep["bob"].figures.O is None
    assert by_rep["bob"].previous.as_dict()["O"] == pytest.approx(1 / 19)
