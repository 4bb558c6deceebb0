"""The manager dashboard: periods, scope (404 outside it), the page's figures, CSV, field today, query bound."""

import csv
import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.dashboard_scope import dashboard_scope_for_user
from analytics.models import NeedModelFit
from analytics.periods import PeriodKind, custom_period, period_containing
from tests.factories import (
    CustomerFactory,
    OpportunityFactory,
    RepProfileFactory,
    StageChangeFactory,
    VisitFactory,
    stage,
)
from visits.models import Visit
from visits.selectors import field_today
from visits.services import local_zone

URL = reverse("analytics:dashboard")

# --- periods --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "day", "first", "last", "previous_first", "previous_last"),
    [
        (PeriodKind.MONTH, date(2026, 3, 15), date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 1), date(2026, 2, 28)),
        (
            PeriodKind.MONTH,
            date(2026, 1, 1),
            date(2026, 1, 1),
            date(2026, 1, 31),
            date(2025, 12, 1),
            date(2025, 12, 31),
        ),
        (
            PeriodKind.QUARTER,
            date(2026, 5, 2),
            date(2026, 4, 1),
            date(2026, 6, 30),
            date(2026, 1, 1),
            date(2026, 3, 31),
        ),
        (
            PeriodKind.QUARTER,
            date(2026, 2, 1),
            date(2026, 1, 1),
            date(2026, 3, 31),
            date(2025, 10, 1),
            date(2025, 12, 31),
        ),
        (PeriodKind.YEAR, date(2024, 7, 7), date(2024, 1, 1), date(2024, 12, 31), date(2023, 1, 1), date(2023, 12, 31)),
    ],
)
def test_calendar_periods_and_the_one_before(kind, day, first, last, previous_first, previous_last):
    period = period_containing(kind, day)

    assert (period.first, period.last) == (first, last)
    assert (period.previous.first, period.previous.last) == (previous_first, previous_last)
    assert period.previous.next == period


def test_a_period_covers_whole_local_days_across_a_clock_change():
    zone = local_zone()
    start, end = period_containing(PeriodKind.MONTH, date(2026, 3, 10)).bounds(zone)

    assert start == datetime(2026, 3, 1, tzinfo=zone)
    assert end == datetime(2026, 4, 1, tzinfo=zone)
    assert start.tzinfo is not None


def test_custom_period_compares_with_as_many_days_just_before():
    period = custom_period(date(2026, 3, 10), date(2026, 3, 19))  # 10 days

    assert period.days == 10
    assert (period.previous.first, period.previous.last) == (date(2026, 2, 28), date(2026, 3, 9))
    with pytest.raises(ValueError, match="ends before"):
        custom_period(date(2026, 3, 10), date(2026, 3, 9))
    with pytest.raises(ValueError, match="at most"):
        custom_period(date(2020, 1, 1), date(2026, 1, 1))


# --- scope ------------------------------------------------------------------------------------------


def test_a_rep_has_no_dashboard(client, rep):
    client.force_login(rep)

    assert client.get(URL).status_code == 404
    assert client.get(reverse("analytics:dashboard_reps_csv")).status_code == 404
    assert client.get(reverse("analytics:dashboard_field_today")).status_code == 404
    assert client.post(reverse("analytics:need_model_fit_now")).status_code == 404


def test_a_manager_sees_their_teams_and_nothing_else(client, manager, team, other_team, rep, teammate, other_rep):
    scope = dashboard_scope_for_user(user=manager)
    assert scope.teams == [team]
    assert set(scope.rep_ids) == {rep.pk, teammate.pk}

    client.force_login(manager)
    assert client.get(URL, {"team": team.pk}).status_code == 200
    # URL tampering: another team, a rep of another team, on every dashboard URL.
    for name in ("analytics:dashboard", "analytics:dashboard_reps_csv", "analytics:dashboard_field_today"):
        assert client.get(reverse(name), {"team": other_team.pk}).status_code == 404
        assert client.get(reverse(name), {"rep": other_rep.pk}).status_code == 404


def test_an_admin_chooses_any_team_or_all_reps(admin_user, team, other_team, rep, other_rep):
    teamless = RepProfileFactory(team=None).user

    everyone = dashboard_scope_for_user(user=admin_user)
    one = dashboard_scope_for_user(user=admin_user, team_id=other_team.pk)

    assert {t.pk for t in everyone.teams} == {team.pk, other_team.pk}
    assert {rep.pk, other_rep.pk, teamless.pk} <= set(everyone.rep_ids)
    assert one.rep_ids == [other_rep.pk]


# --- the page -------------------------------------------------------------------------------------


def closed(owner, code: str, at: datetime, amount: str = "1000.00"):
    customer = CustomerFactory(owner=owner)
    opportunity = OpportunityFactory(
        customer=customer, stage=stage(code), amount=Decimal(amount), opened_at=at - timedelta(days=20), closed_at=at
    )
    StageChangeFactory(
        opportunity=opportunity, from_stage=None, to_stage=stage("discovery"), changed_at=at - timedelta(days=20)
    )
    StageChangeFactory(opportunity=opportunity, from_stage=stage("discovery"), to_stage=stage(code), changed_at=at)
    return opportunity


@pytest.fixture
def march(rep, teammate):
    """In March 2026: rep won 2 (1,000 + 3,000) and lost 1; teammate lost 1. Nothing in February."""
    zone = local_zone()
    closed(rep, "won", datetime(2026, 3, 5, 10, tzinfo=zone))
    closed(rep, "won", datetime(2026, 3, 20, 10, tzinfo=zone), amount="3000.00")
    closed(rep, "lost", datetime(2026, 3, 21, 10, tzinfo=zone))
    closed(teammate, "lost", datetime(2026, 3, 22, 10, tzinfo=zone))
    return {"period": "month", "on": "2026-03-10"}


def test_cards_show_the_period_against_the_one_before_and_a_dash_where_undefined(client, manager, march):
    client.force_login(manager)

    response = client.get(URL, march)

    assert response.status_code == 200
    cards = {card.definition.key: card for card in response.context["cards"]}
    # Win rate: 2 won / (2 won + 2 lost) = 50 %; February closed nothing: undefined.
    assert cards["win_rate"].value == pytest.approx(0.5)
    assert cards["win_rate"].value_text == "50.0 %"
    assert cards["win_rate"].previous_text == "—"
    assert cards["win_rate"].trend == ""
    # No visit at all: every satisfaction ratio is undefined, shown as "—", never 0.
    for key in ("cs_need", "cs_expectation", "cs_plan", "cs_policy"):
        assert cards[key].value is None
        assert cards[key].value_text == "—"
    report = response.context["report"]
    assert (report.overall.won, report.overall.lost) == (2, 2)
    assert report.overall.won_amount == pytest.approx(4000.0)
    html = response.content.decode()
    assert 'id="dashboard-charts"' in html
    assert 'title="Won / (won + lost), among the opportunities closed in the period."' in html


def test_per_rep_rows_sort_by_a_figure_with_undefined_last(client, manager, rep, teammate, march):
    lonely = RepProfileFactory(team=rep.rep_profile.team).user  # closed nothing: win rate undefined
    client.force_login(manager)

    response = client.get(URL, {**march, "sort": "win_rate", "dir": "desc"})

    rows = response.context["rows"]
    assert [r.rep_id for r in rows] == [rep.pk, teammate.pk, lonely.pk]
    win_rate = [h.key for h in response.context["headers"]].index("win_rate") - 1
    assert [r.values[win_rate] for r in rows] == [pytest.approx(2 / 3), 0.0, None]
    ascending = client.get(URL, {**march, "sort": "win_rate", "dir": "asc"}).context["rows"]
    assert [r.rep_id for r in ascending] == [teammate.pk, rep.pk, lonely.pk]


def test_rep_filter_restricts_every_figure_to_that_rep(client, manager, rep, march):
    client.force_login(manager)

    report = client.get(URL, {**march, "rep": rep.pk}).context["report"]

    assert (report.overall.won, report.overall.lost) == (2, 1)
    assert [r.rep_id for r in report.reps] == [rep.pk]


def test_csv_export_has_one_row_per_rep_with_raw_numbers(client, manager, rep, teammate, march):
    client.force_login(manager)

    response = client.get(reverse("analytics:dashboard_reps_csv"), march)

    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="fieldwise-reps-20260301-20260331.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_user = {row["Username"]: row for row in rows}
    assert set(by_user) == {rep.username, teammate.username}
    assert by_user[rep.username]["Won"] == "2"
    assert float(by_user[rep.username]["Win rate"]) == pytest.approx(2 / 3)
    assert by_user[teammate.username]["Won amount"] in ("0", "0.0")
    assert by_user[teammate.username]["CS_need"] == ""  # undefined, not 0


def test_a_bad_period_says_so_and_shows_this_month(client, manager):
    client.force_login(manager)

    response = client.get(URL, {"period": "custom", "date_from": "2026-03-10", "date_to": "2026-03-01"})

    assert response.status_code == 200
    assert "The last day must not be before the first" in response.content.decode()
    assert response.context["page"].period == period_containing(PeriodKind.MONTH, timezone.localdate())


@pytest.mark.parametrize("reps", [2, 12])
def test_the_dashboard_takes_at_most_20_queries_whatever_the_data(
    client, manager, team, reps, django_assert_max_num_queries
):
    zone = local_zone()
    for i in range(reps):
        member = RepProfileFactory(team=team).user
        closed(member, "won" if i % 2 else "lost", datetime(2026, 3, 5 + i % 20, 10, tzinfo=zone))
        customer = CustomerFactory(owner=member)
        VisitFactory(customer=customer, planned_start=datetime(2026, 3, 3, 9, tzinfo=zone))
    client.force_login(manager)

    with django_assert_max_num_queries(20):
        response = client.get(URL, {"period": "year", "on": "2026-06-01"})

    assert response.status_code == 200
    assert len(response.context["rows"]) == reps


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only PostgreSQL opens a load lane")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_dashboard_loads_on_a_second_connection_with_the_same_figures_and_queries_counted(
    client, settings, manager, rep, march, threads_of_loads, django_assert_max_num_queries
):
    """On committed data (transaction=True), as in production, the view loads on a lane (analytics.bridge.beside)."""
    zone = local_zone()
    VisitFactory(customer=CustomerFactory(owner=rep), planned_start=datetime(2026, 3, 3, 9, tzinfo=zone))
    client.force_login(manager)
    settings.FIELDWISE_PARALLEL_LOADS = 0
    with CaptureQueriesContext(connection) as serial_queries:
        serial = client.get(URL, march).context

    settings.FIELDWISE_PARALLEL_LOADS = 2
    threads_of_loads.clear()
    with django_assert_max_num_queries(20) as queries:
        parallel = client.get(URL, march).context

    assert set(threads_of_loads) == {"fieldwise-load-lane"}  # the visit effect, the visit sums, the orders
    # The visit sums are read on the lane; with the count below equal to the series', none of the lane's is missed.
    assert any("analytics_visitdayterms" in query["sql"] for query in queries.captured_queries)
    assert len(queries) == len(serial_queries)  # every statement counted, wherever it ran
    assert (parallel["report"].overall, parallel["report"].previous) == (
        serial["report"].overall,
        serial["report"].previous,
    )
    assert parallel["report"].reps == serial["report"].reps
    assert parallel["report"].funnel == serial["report"].funnel
    assert parallel["effect"] == serial["effect"]
    assert parallel["report"].overall.won == 2  # by hand: the march fixture


# --- field today ----------------------------------------------------------------------------------


def test_field_today_lists_late_and_missed_visits_of_the_scope_only(rep, other_rep):
    zone = local_zone()
    now = datetime(2026, 3, 10, 11, 0, tzinfo=zone)
    customer = CustomerFactory(owner=rep)
    late = VisitFactory(customer=customer, planned_start=now - timedelta(minutes=30))
    VisitFactory(customer=customer, planned_start=now - timedelta(minutes=5))  # not late yet
    VisitFactory(customer=customer, planned_start=now + timedelta(hours=1))  # still ahead
    missed = VisitFactory(customer=customer, planned_start=datetime(2026, 3, 9, 9, tzinfo=zone), status="missed")
    unswept = VisitFactory(customer=customer, planned_start=datetime(2026, 3, 9, 14, tzinfo=zone))
    VisitFactory(customer=customer, planned_start=datetime(2026, 3, 8, 14, tzinfo=zone), status="missed")  # 2 days ago
    VisitFactory(customer=CustomerFactory(owner=other_rep), planned_start=now - timedelta(minutes=30))

    today = field_today(rep_ids=[rep.pk], now=now)

    assert [v.pk for v in today.late] == [late.pk]
    assert [v.pk for v in today.missed_yesterday] == [missed.pk, unswept.pk]


def test_field_today_panel_shows_the_managers_reps_only(client, manager, rep, other_rep):
    yesterday_noon = datetime.combine(timezone.localdate() - timedelta(days=1), time(12, 0), tzinfo=local_zone())
    mine = VisitFactory(customer=CustomerFactory(owner=rep, name="Mine Ltd"), planned_start=yesterday_noon)
    VisitFactory(customer=CustomerFactory(owner=other_rep, name="Theirs Ltd"), planned_start=yesterday_noon)
    client.force_login(manager)

    response = client.get(reverse("analytics:dashboard_field_today"))

    html = response.content.decode()
    assert [v.pk for v in response.context["today"].missed_yesterday] == [mine.pk]
    assert "Mine Ltd" in html
    assert "Theirs Ltd" not in html


def test_field_today_ignores_checked_in_and_cancelled_visits(rep):
    zone = local_zone()
    now = datetime(2026, 3, 10, 11, 0, tzinfo=zone)
    customer = CustomerFactory(owner=rep)
    VisitFactory(
        customer=customer,
        planned_start=now - timedelta(hours=1),
        status=Visit.Status.CHECKED_IN,
        checked_in_at=now - timedelta(minutes=50),
    )
    VisitFactory(customer=customer, planned_start=now - timedelta(hours=1), status=Visit.Status.CANCELLED)
    late = VisitFactory(customer=customer, planned_start=now - timedelta(minutes=16))

    today = field_today(rep_ids=[rep.pk], now=now)

    assert [v.pk for v in today.late] == [late.pk]
    assert today.missed_yesterday == []


# --- need model ---------------------------------------------------------------------------------------


def test_fit_now_fits_the_model_and_the_page_says_why_it_could_not(
    client, manager, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(manager)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("analytics:need_model_fit_now"))
    assert response.status_code == 302

    fit = NeedModelFit.objects.latest()
    assert fit.status == NeedModelFit.Status.NOT_FITTED  # no closed opportunity at all
    html = client.get(URL).content.decode()
    assert 'data-need="not-fitted"' in html
    assert "Not fitted" in html


@pytest.mark.parametrize(
    "params",
    [
        {"on": "0001-01-15"},
        {"period": "year", "on": "9999-06-01"},
        {"period": "custom", "date_from": "0001-01-01", "date_to": "0001-01-02"},
    ],
)
def test_days_out_of_the_calendars_reach_are_refused_not_a_crash(client, manager, params):
    client.force_login(manager)

    response = client.get(URL, params)

    assert response.status_code == 200
    assert "Give a day between the years 1970 and 2199." in response.content.decode()
