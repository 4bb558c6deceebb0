"""`analytics.kpis`: every KPI of a small hand-built pipeline, computed by hand, overall, per rep and the period before.

The data is in tests/analytics/kpi_world.py (days are relative to D0 = 2025-03-01,
the period is March 2025, the previous period the 31 days before).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.kpis import KPI_KEYS, KpiFigures, kpi_report, rep_ids_for_team
from analytics.visit_days import visit_days_refresh
from crm.models import Team
from sales.models import Opportunity, Stage
from tests.analytics.kpi_world import (
    AFTER,
    PERIOD_END,
    PERIOD_START,
    build_world,
    completed_visit,
    day,
    opportunity,
    order,
)
from tests.factories import CustomerFactory, RepProfileFactory, TeamFactory, VisitFactory


@pytest.fixture(params=["from visits", "from stored day sums"])
def world(request, db):
    """The world, its CS ratios read from the visits, then again from the stored day sums: same figures."""
    built = build_world()
    if request.param == "from stored day sums":
        assert visit_days_refresh(now=AFTER) > 0
    return built


def report_for(world, **kwargs):
    options = {"period_start": PERIOD_START, "period_end": PERIOD_END, "as_of": AFTER}
    options.update(kwargs)
    return kpi_report(rep_ids=[world.ann.pk, world.bob.pk, world.cy.pk], **options)


def figures(**values) -> dict:
    """All twelve keys: None unless given (a count or amount given as 0 where it is 0)."""
    out = dict.fromkeys(KPI_KEYS)
    out.update(values)
    return out


# Ann, March. Won: A1 (day 5). Lost: A2 (day 11). win rate 1 / 2.
# Won amount: 10,000.
# Pipeline at the period's end (2025-04-01): A3 in Follow-up 20,000 x 0.6 = 12,000, A4 by hand 8,000 x 0.5 = 4,000.
# E: left Communication forward in March: A1 (day 2, after 12 days there), A3 (day 20, after 55 days): 2 / 67.
# R: won out of Follow-up in March: A1 after 3 days: 1 / 3.
# O: orders fulfilled in March: A1's, 4 days: 1 / 4.
# Visits planned in March: V1 (needs 3/2, scores 5 of 4, on time), V2 (1/1, 3 of 5, 45 min late),
# V3 (0/0, no expected score, report after 49 h), V4 cancelled two days ahead (not planned),
# V5 cancelled on the day and V6 missed (planned, not completed).
# CS_need 100 * 3 / 4 = 75; CS_expectation 100 * (5 + 3) / (4 + 5) = 800 / 9 (V3 lacks its expected score);
# CS_plan 100 * 3 / 5 = 60; CS_policy 100 * 1 / 3 (V1 only).
ANN = figures(
    won=1,
    lost=1,
    win_rate=0.5,
    won_amount=10_000.0,
    weighted_pipeline=16_000.0,
    E=2 / 67,
    R=1 / 3,
    O=1 / 4,
    cs_need=75.0,
    cs_expectation=800 / 9,
    cs_plan=60.0,
    cs_policy=100 / 3,
)
# Ann, previous period [2025-01-29, 2025-03-01). Won: A5 (day -20), nothing lost: win rate 1.
# Pipeline at D0: A1 in Communication 10,000 x 0.3 = 3,000, A2 in Discovery 4,000 x 0.1 = 400,
# A3 in Communication 20,000 x 0.3 = 6,000, A4 by hand 4,000: 13,400.
# E: nothing left Communication in the period: undefined. R: A5 won after 20 days in Follow-up: 1 / 20.
# O: A5's order, 6 days: 1 / 6. Visits: V7 (needs 2/1, scores 2 of 4, on time): 50, 50, 100, 100.
ANN_BEFORE = figures(
    won=1,
    lost=0,
    win_rate=1.0,
    won_amount=6_000.0,
    weighted_pipeline=13_400.0,
    R=1 / 20,
    O=1 / 6,
    cs_need=50.0,
    cs_expectation=50.0,
    cs_plan=100.0,
    cs_policy=100.0,
)
# Bob, March. Won: B1 (day 15). Lost: B2 (day 20). Won amount 5,000.
# Pipeline at 2025-04-01: B3 in Discovery 1,000 x 0.1 = 100; B4 in Follow-up 2,000 x 0.6 = 1,200 (won only in April).
# E: B1 left Communication forward (twice, counted once) after 4 + 3 days: 1 / 7.
# R: B1 won out of Follow-up after 2 + 3 days there: 1 / 5. O: B1's order is not fulfilled: undefined.
# Visits: W1 (no needs, no scores, 20 min early, report after 23.5 h): need and expectation undefined, 100, 100.
BOB = figures(
    won=1,
    lost=1,
    win_rate=0.5,
    won_amount=5_000.0,
    weighted_pipeline=1_300.0,
    E=1 / 7,
    R=1 / 5,
    cs_plan=100.0,
    cs_policy=100.0,
)
# Bob, previous period: nothing closed, no order, no visit. Pipeline at D0: B1 5,000 x 0.1 + B2 3,000 x 0.1 = 800
# (B3 and B4 were not opened yet).
BOB_BEFORE = figures(won=0, lost=0, won_amount=0.0, weighted_pipeline=800.0)
NOTHING = figures(won=0, lost=0, won_amount=0.0, weighted_pipeline=0.0)
# Ann and Bob together, March: won 2, lost 2; E = (2 + 1) / (67 + 7); R = 2 / (3 + 5); O = 1 / 4;
# CS_need 100 * 3 / 4; CS_expectation 800 / 9; CS_plan 100 * (3 + 1) / (5 + 1); CS_policy 100 * (1 + 1) / (3 + 1).
OVERALL = figures(
    won=2,
    lost=2,
    win_rate=0.5,
    won_amount=15_000.0,
    weighted_pipeline=17_300.0,
    E=3 / 74,
    R=2 / 8,
    O=1 / 4,
    cs_need=75.0,
    cs_expectation=800 / 9,
    cs_plan=400 / 6,
    cs_policy=50.0,
)
OVERALL_BEFORE = figures(
    won=1,
    lost=0,
    win_rate=1.0,
    won_amount=6_000.0,
    weighted_pipeline=14_200.0,
    R=1 / 20,
    O=1 / 6,
    cs_need=50.0,
    cs_expectation=50.0,
    cs_plan=100.0,
    cs_policy=100.0,
)


def assert_figures(actual: KpiFigures, expected: dict) -> None:
    got = actual.as_dict()
    assert list(got) == list(KPI_KEYS)
    for key in KPI_KEYS:
        if expected[key] is None:
            assert got[key] is None, key  # undefined: None, never 0 or 100
        else:
            assert got[key] == pytest.approx(expected[key], rel=1e-12), key
    assert isinstance(got["won"], int)
    assert isinstance(got["lost"], int)


def test_overall_and_previous_period_by_hand(world):
    report = report_for(world)

    assert (report.period_start, report.period_end) == (PERIOD_START, PERIOD_END)
    assert_figures(report.overall, OVERALL)
    assert_figures(report.previous, OVERALL_BEFORE)


def test_every_rep_by_hand_sorted_by_name_with_the_rep_without_data(world):
    report = report_for(world)

    assert [(r.name, r.username, r.rep_id) for r in report.reps] == [
        ("Ann Archer", "ann", world.ann.pk),
        ("Bob Baker", "bob", world.bob.pk),
        ("cy", "cy", world.cy.pk),  # no name: the username
    ]
    ann, bob, cy = report.reps
    assert_figures(ann.figures, ANN)
    assert_figures(ann.previous, ANN_BEFORE)
    assert_figures(bob.figures, BOB)
    assert_figures(bob.previous, BOB_BEFORE)
    assert_figures(cy.figures, NOTHING)
    assert_figures(cy.previous, NOTHING)


def test_every_rep_includes_other_teams_and_their_data_overall(world):
    report = kpi_report(rep_ids=None, period_start=PERIOD_START, period_end=PERIOD_END, as_of=AFTER)

    # Every user with a rep profile (not the manager); Dee's figures are hers alone.
    assert [r.username for r in report.reps] == ["ann", "bob", "cy", "dee"]
    assert_figures(report.reps[0].figures, ANN)
    assert_figures(
        report.reps[3].figures,
        # D1 won day 4 out of Communication (3 days there: E = 1 / 3, R undefined); its order took 1 day.
        # Her visit: needs 1/0, scores 1 of 5, on time.
        figures(
            won=1,
            lost=0,
            win_rate=1.0,
            won_amount=99_999.0,
            weighted_pipeline=0.0,
            E=1 / 3,
            O=1.0,
            cs_need=0.0,
            cs_expectation=20.0,
            cs_plan=100.0,
            cs_policy=100.0,
        ),
    )
    # Overall now adds Dee: won 3 of 5; E = (3 + 1) / (74 + 3); O = 2 / (4 + 1);
    # CS_need 100 * 3 / 5; CS_expectation 100 * (5 + 3 + 1) / (4 + 5 + 5); CS_plan 100 * 5 / 7; CS_policy 100 * 3 / 5.
    assert_figures(
        report.overall,
        figures(
            won=3,
            lost=2,
            win_rate=0.6,
            won_amount=114_999.0,
            weighted_pipeline=17_300.0,
            E=4 / 77,
            R=0.25,
            O=0.4,
            cs_need=60.0,
            cs_expectation=900 / 14,
            cs_plan=500 / 7,
            cs_policy=60.0,
        ),
    )


def test_a_period_still_running_uses_the_open_pipeline_now_and_only_the_visits_due(world):
    # "Now" is day 13 of March: the pipeline is the open opportunities as they stand
    # (A3 12,000 + A4 4,000 + B3 100; B4 is won by now), and V6 (day 14) is not due yet.
    report = report_for(world, as_of=day(13))

    assert report.overall.weighted_pipeline == pytest.approx(16_100.0)
    assert report.reps[0].figures.cs_plan == pytest.approx(100 * 3 / 4)
    assert report.overall.cs_plan == pytest.approx(100 * 4 / 5)
    assert report.reps[0].figures.cs_need == pytest.approx(75.0)  # the completed visits are the same
    # The previous period is over: its pipeline is still the one at D0.
    assert report.previous.weighted_pipeline == pytest.approx(14_200.0)


def test_a_period_with_nothing_in_it_is_undefined_not_zero(world):
    report = report_for(
        world, period_start=datetime(2030, 1, 1, tzinfo=UTC), period_end=datetime(2030, 2, 1, tzinfo=UTC)
    )

    # Still in the future: nothing closed, no visit due; the pipeline is today's (A3, A4, B3).
    assert_figures(report.overall, figures(won=0, lost=0, won_amount=0.0, weighted_pipeline=16_100.0))


def test_funnel_by_hand(world):
    report = report_for(world)

    rows = {row.code: row for row in report.funnel}
    assert [row.code for row in report.funnel] == ["discovery", "communication", "follow-up", "won", "lost"]
    assert rows["discovery"].name == "Discovery"
    # Open now: B3 in Discovery, A4 in Communication, A3 in Follow-up.
    assert [row.open_now for row in report.funnel] == [1, 1, 1, None, None]
    # Entered in March: Discovery B3, B4; Communication A2, B1 (twice, one opportunity);
    # Follow-up A1, A3, B1, B4; Won A1, B1; Lost A2, B2.
    assert [row.entered for row in report.funnel] == [2, 2, 4, 2, 2]
    # Converted: Discovery B4 (to Follow-up) of 2; Communication B1 of 2 (A2 was lost);
    # Follow-up A1, B1 and B4 (won in April) of 4.
    assert [row.conversion for row in report.funnel] == [0.5, 0.5, 0.75, None, None]
    assert [row.is_terminal for row in report.funnel] == [False, False, False, True, True]


def test_funnel_folds_an_added_stage_into_the_one_before(world):
    Stage.objects.create(code="negotiation", name="Negotiation", order=6, default_probability=Decimal("0.8"))
    Stage.objects.filter(code="won").update(order=7)
    Stage.objects.filter(code="lost").update(order=8)
    Stage.objects.filter(code="negotiation").update(order=4)  # between Follow-up (3) and Won (7)
    # A3 moves on from Follow-up to Negotiation on day 22: still Follow-up to the funnel, so nothing changes.
    a3 = Opportunity.objects.get(owner=world.ann, amount=20_000)
    a3.stage = Stage.objects.get(code="negotiation")
    a3.save()
    a3.stage_changes.create(from_stage=Stage.objects.get(code="follow-up"), to_stage=a3.stage, changed_at=day(22))

    report = report_for(world)

    assert [row.code for row in report.funnel] == ["discovery", "communication", "follow-up", "won", "lost"]
    assert [row.open_now for row in report.funnel] == [1, 1, 1, None, None]
    assert [row.conversion for row in report.funnel] == [0.5, 0.5, 0.75, None, None]
    # Its pipeline weight is now Negotiation's default: 20,000 x 0.8 instead of x 0.6.
    assert report.reps[0].figures.weighted_pipeline == pytest.approx(16_000.0 + 4_000.0)


def test_monthly_series_of_the_last_twelve_complete_months(world):
    report = report_for(world)

    monthly = report.monthly
    assert monthly.months == [f"2024-{m:02d}" for m in range(4, 13)] + ["2025-01", "2025-02", "2025-03"]
    # Won by close month: A5 in February (6,000); A1 and B1 in March (15,000). B4 closes in April: after.
    assert monthly.won_amount == [0.0] * 10 + [6_000.0, 15_000.0]
    # Visits by planned month: V7 in February; V1-V6 and W1 in March.
    assert monthly.cs_need == [None] * 10 + [50.0, 75.0]
    assert monthly.cs_expectation[:11] == [None] * 10 + [50.0]
    assert monthly.cs_expectation[11] == pytest.approx(800 / 9)
    # The first close (A5) was in February: two months of sales, fewer than the six a forecast needs.
    assert monthly.months_of_data == 2
    assert monthly.forecast == []
    assert monthly.backtest_mse is None
    assert monthly.forecast_reason == "Only 2 complete months of sales; at least 6 are needed for a forecast."
    assert monthly.forecast_months == ["2025-04", "2025-05", "2025-06"]


def test_monthly_forecast_on_a_straight_line(db):
    rep = RepProfileFactory(user__username="rex").user
    customer = CustomerFactory(owner=rep)
    # Won 100, 200, ..., 800 in the eight months June 2024 .. January 2025 (mid-month).
    for k in range(8):
        month = datetime(2024, 6 + k, 15, tzinfo=UTC) if k < 7 else datetime(2025, 1, 15, tzinfo=UTC)
        opp = opportunity(rep, customer, 100 * (k + 1), [("discovery", -200), ("won", -200)])
        Opportunity.objects.filter(pk=opp.pk).update(opened_at=month - timedelta(days=1), closed_at=month)

    report = kpi_report(
        rep_ids=[rep.pk],
        period_start=datetime(2025, 2, 1, tzinfo=UTC),
        period_end=datetime(2025, 3, 1, tzinfo=UTC),
        as_of=AFTER,
    )

    monthly = report.monthly
    assert monthly.months[-1] == "2025-02"
    assert monthly.won_amount == [0.0] * 3 + [100.0 * (k + 1) for k in range(8)] + [0.0]
    # Nine months since the first close (June 2024 .. February 2025): y = 100, ..., 800, 0.
    assert monthly.months_of_data == 9
    # OLS on m = 0..8: mean m = 4, mean y = 3600 / 9 = 400; Sxy = sum (m - 4) * y = 2400, Sxx = 60:
    # c1 = 40, c0 = 400 - 160 = 240; forecast m = 9, 10, 11: 600, 640, 680.
    assert monthly.forecast == pytest.approx([600.0, 640.0, 680.0])
    assert monthly.forecast_months == ["2025-03", "2025-04", "2025-05"]
    # Back-test on m = 0..5 (y = 100..600): exact line y = 100 + 100 m; predicts 700, 800, 900 for 700, 800, 0:
    # MSE = (0 + 0 + 900^2) / 3 = 270,000.
    assert monthly.backtest_mse == pytest.approx(270_000.0)
    assert monthly.forecast_reason is None


def test_months_and_periods_are_local_to_time_zone(db, settings):
    settings.TIME_ZONE = "Europe/Paris"  # UTC+1, UTC+2 from March 30, 2025
    paris = ZoneInfo("Europe/Paris")
    rep = RepProfileFactory(user__username="rex").user
    customer = CustomerFactory(owner=rep)
    # Won at 23:30 on March 31 in Paris (21:30 UTC) and at 00:30 on April 1 (22:30 UTC on March 31).
    opportunity(rep, customer, 100, [("discovery", 20), ("won", 30 + 21.5 / 24)])
    opportunity(rep, customer, 7, [("discovery", 20), ("won", 30 + 22.5 / 24)])

    report = kpi_report(
        rep_ids=[rep.pk],
        period_start=datetime(2025, 3, 1, tzinfo=paris),
        period_end=datetime(2025, 4, 1, tzinfo=paris),
        as_of=AFTER,
    )

    assert (report.overall.won, report.overall.won_amount) == (1, 100.0)  # the April deal is after the period
    assert report.monthly.months[-1] == "2025-03"
    assert report.monthly.won_amount[-1] == 100.0


def test_rep_ids_for_team(world):
    north = Team.objects.get(name="North")

    assert rep_ids_for_team(team_id=north.pk) == sorted([world.ann.pk, world.bob.pk, world.cy.pk])
    assert rep_ids_for_team(team_id=None) == sorted([world.ann.pk, world.bob.pk, world.cy.pk, world.dee.pk])
    assert rep_ids_for_team(team_id=TeamFactory(name="Empty").pk) == []
    with pytest.raises(Team.DoesNotExist):
        rep_ids_for_team(team_id=north.pk + 1000)


def test_bad_arguments_are_refused(world):
    with pytest.raises(ValueError, match="aware"):
        kpi_report(rep_ids=None, period_start=datetime(2025, 3, 1), period_end=PERIOD_END)  # noqa: DTZ001
    with pytest.raises(ValueError, match="after period_start"):
        kpi_report(rep_ids=None, period_start=PERIOD_END, period_end=PERIOD_START)
    with pytest.raises(ValueError, match="unknown user ids"):
        kpi_report(rep_ids=[world.ann.pk, 999_999], period_start=PERIOD_START, period_end=PERIOD_END)


def test_kpis_of_no_rep_at_all(db):
    report = kpi_report(rep_ids=[], period_start=PERIOD_START, period_end=PERIOD_END, as_of=AFTER)

    assert report.reps == []
    assert_figures(report.overall, NOTHING)


# --- query count -------------------------------------------------------------------------------------------------


def bulk_reps(count: int) -> list[int]:
    """`count` reps, each with a won, a lost and an open opportunity, an order and three visits in March."""
    team = TeamFactory(name="Bulk")
    ids = []
    for n in range(count):
        rep = RepProfileFactory(team=team, user__username=f"bulk{n}").user
        customer = CustomerFactory(owner=rep)
        won = opportunity(rep, customer, 1_000, [("discovery", -5), ("communication", 1), ("follow-up", 3), ("won", 6)])
        order(won, 6, 8)
        opportunity(rep, customer, 500, [("discovery", -3), ("lost", 4)])
        opportunity(rep, customer, 700, [("discovery", 2), ("communication", 5)])
        completed_visit(customer, rep, day(2, 10), check_in=5, report=1, needs=(2, 1), scores=(4, 4))
        completed_visit(customer, rep, day(-3, 10), check_in=5, report=1, needs=(1, 1), scores=(3, 4))
        VisitFactory(customer=customer, rep=rep, planned_start=day(9, 10), status="missed")
        ids.append(rep.pk)
    return ids


def queries_for(rep_ids) -> int:
    with CaptureQueriesContext(connection) as context:
        kpi_report(rep_ids=rep_ids, period_start=PERIOD_START, period_end=PERIOD_END, as_of=AFTER)
    return len(context.captured_queries)


@pytest.mark.parametrize("reps", [2, 40])
def test_query_count_is_fixed_whatever_the_data(db, django_assert_max_num_queries, reps):
    rep_ids = bulk_reps(reps)

    with django_assert_max_num_queries(9):  # users, stages, pipeline (3), won sales, visit sums (2), JIT setting (PG)
        report = kpi_report(rep_ids=rep_ids, period_start=PERIOD_START, period_end=PERIOD_END, as_of=AFTER)
    with django_assert_max_num_queries(9):
        kpi_report(rep_ids=None, period_start=PERIOD_START, period_end=PERIOD_END, as_of=AFTER)

    assert report.overall.won == reps
    assert report.overall.lost == reps
    assert report.overall.win_rate == pytest.approx(0.5)
    assert [rep.figures.E for rep in report.reps] == pytest.approx([1 / 2] * reps)  # 2 days in Communication
    assert queries_for(rep_ids) == queries_for(rep_ids[:1])
