"""`manage.py kpis`: the hand-built pipeline's figures as JSON and as a table, bad input, and the real Maven data."""

import csv
import json
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from analytics.kpis import KPI_KEYS, kpi_report
from crm.maven_import import maven_data_import
from crm.models import Team
from tests.analytics.kpi_world import build_world
from tests.analytics.test_kpis import ANN, BOB, NOTHING, OVERALL

DATA_DIR = settings.BASE_DIR / "data" / "maven-crm-sales-opportunities"


@pytest.fixture
def world(db):
    assert timezone.now() > datetime(2025, 6, 1, tzinfo=timezone.get_default_timezone())  # March 2025 is over
    return build_world()


def kpis(*args: str) -> str:
    out = StringIO()
    call_command("kpis", *args, stdout=out)
    return out.getvalue()


def assert_numbers(actual: dict, expected: dict) -> None:
    for key in KPI_KEYS:
        if expected[key] is None:
            assert actual[key] is None, key
        else:
            assert actual[key] == pytest.approx(expected[key], rel=1e-12), key


def test_json_is_one_object_with_the_period_overall_and_every_rep_of_the_team(world):
    north = Team.objects.get(name="North")

    output = kpis("--from", "2025-03-01", "--to", "2025-03-31", "--team", str(north.pk), "--json")

    payload = json.loads(output)  # exactly one JSON document, nothing else printed
    assert list(payload) == ["from", "to", "overall", "reps"]
    # The period is [March 1 00:00, April 1 00:00) in TIME_ZONE (UTC in the tests).
    assert payload["from"] == "2025-03-01T00:00:00+00:00"
    assert payload["to"] == "2025-04-01T00:00:00+00:00"
    assert list(payload["overall"]) == list(KPI_KEYS)
    assert_numbers(payload["overall"], OVERALL)
    assert [(r["rep"], r["username"]) for r in payload["reps"]] == [
        ("Ann Archer", "ann"),
        ("Bob Baker", "bob"),
        ("cy", "cy"),
    ]
    for row, expected in zip(payload["reps"], [ANN, BOB, NOTHING], strict=True):
        assert list(row) == ["rep", "username", *KPI_KEYS]
        assert_numbers(row, expected)
    assert payload["reps"][1]["cs_need"] is None  # undefined is null, never 0 or 100
    assert "NaN" not in output


def test_without_a_team_every_rep_is_listed(world):
    payload = json.loads(kpis("--from", "2025-03-01", "--to", "2025-03-31", "--json"))

    assert [r["username"] for r in payload["reps"]] == ["ann", "bob", "cy", "dee"]
    assert payload["overall"]["won"] == 3  # Dee's deal counts too


def test_the_period_is_read_in_time_zone(world, settings):
    settings.TIME_ZONE = "Europe/Paris"

    payload = json.loads(kpis("--from", "2025-03-01", "--to", "2025-03-31", "--json"))

    # Midnight to midnight in Paris: winter time on March 1, summer time on April 1.
    assert (payload["from"], payload["to"]) == ("2025-03-01T00:00:00+01:00", "2025-04-01T00:00:00+02:00")
    assert payload["overall"]["won"] == 3  # every deal closed at midnight UTC on a March day


def test_table_shows_every_rep_with_a_dash_where_undefined(world):
    output = kpis("--from", "2025-03-01", "--to", "2025-03-31", "--team", str(Team.objects.get(name="North").pk))

    lines = output.splitlines()
    assert lines[0] == "KPIs from 2025-03-01 to 2025-03-31 (3 reps)"
    rows = {line.split("  ")[0].strip(): line.split() for line in lines if line.startswith(("Ann", "Bob", "cy"))}
    # Ann: won 1, lost 1, 50.0%, 10,000, 16,000, E 2/67, R 1/3, O 1/4, 75.0%, 88.9%, 60.0%, 33.3%.
    assert rows["Ann Archer"][2:] == [
        "1",
        "1",
        "50.0%",
        "10,000",
        "16,000",
        "0.030",
        "0.333",
        "0.250",
        "75.0%",
        "88.9%",
        "60.0%",
        "33.3%",
    ]
    # Bob: no order fulfilled (O), no need raised, no scores: "—".
    assert rows["Bob Baker"][2:] == [
        "1",
        "1",
        "50.0%",
        "5,000",
        "1,300",
        "0.143",
        "0.200",
        "—",
        "—",
        "—",
        "100.0%",
        "100.0%",
    ]
    assert rows["cy"][1:] == ["0", "0", "—", "0", "0", "—", "—", "—", "—", "—", "—", "—"]
    overall = next(line for line in lines if line.startswith("Overall "))
    assert overall.split()[1:4] == ["2", "2", "50.0%"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-02-30", "--to", "2025-03-31"], "--from is not an ISO date (YYYY-MM-DD): 2025-02-30"),
        (["--from", "2025-03-01", "--to", "March"], "--to is not an ISO date (YYYY-MM-DD): March"),
        (["--from", "2025-03-31", "--to", "2025-03-01"], "--to (2025-03-01) is before --from (2025-03-31)."),
        (["--from", "2025-03-01", "--to", "2025-03-31", "--team", "999999"], "--team: no team with id 999999."),
    ],
)
def test_bad_input_is_a_command_error_naming_the_option(db, args, message):
    with pytest.raises(CommandError) as error:
        kpis(*args)

    assert str(error.value) == message


def test_one_day_period(world):
    north = Team.objects.get(name="North")

    payload = json.loads(kpis("--from", "2025-03-07", "--to", "2025-03-07", "--team", str(north.pk), "--json"))

    # [March 7, March 8) is day 6: nothing closed (A1 on day 5, A2 on day 11), no order fulfilled;
    # of Ann's visits only V3 was planned, completed, its report 49 h after check-out.
    assert (payload["from"], payload["to"]) == ("2025-03-07T00:00:00+00:00", "2025-03-08T00:00:00+00:00")
    assert (payload["overall"]["won"], payload["overall"]["lost"], payload["overall"]["win_rate"]) == (0, 0, None)
    assert payload["overall"]["O"] is None
    assert (payload["reps"][0]["cs_plan"], payload["reps"][0]["cs_policy"]) == (100.0, 0.0)
    assert payload["reps"][0]["cs_need"] is None  # V3 raised no need


# --- the real Maven data -------------------------------------------------------------------------------------------


def read_pipeline() -> list[dict[str, str]]:
    with open(DATA_DIR / "sales_pipeline.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def whole_range(rows) -> tuple[date, date]:
    days = [date.fromisoformat(d) for r in rows for d in (r["engage_date"], r["close_date"]) if d]
    return min(days), max(days)


@pytest.fixture
def maven(db):
    maven_data_import(directory=DATA_DIR)
    return read_pipeline()


@pytest.mark.slow
def test_maven_stage_counts_match_the_csv(maven):
    first, last = whole_range(maven)
    tz = timezone.get_default_timezone()
    period_end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)

    report = kpi_report(rep_ids=None, period_start=datetime.combine(first, time.min, tzinfo=tz), period_end=period_end)

    per_stage = Counter(r["deal_stage"] for r in maven)
    funnel = {row.code: row for row in report.funnel}
    # Prospecting and Engaging deals are open in Discovery and Communication; none reached Follow-up.
    assert funnel["discovery"].open_now == per_stage["Prospecting"]
    assert funnel["communication"].open_now == per_stage["Engaging"]
    assert funnel["follow-up"].open_now == 0
    # Every Won and Lost deal closed inside the period.
    assert report.overall.won == per_stage["Won"]
    assert report.overall.lost == per_stage["Lost"]
    assert funnel["won"].entered == per_stage["Won"]
    assert funnel["lost"].entered == per_stage["Lost"]
    assert report.overall.won_amount == sum(int(r["close_value"]) for r in maven if r["deal_stage"] == "Won")
    assert sum(per_stage.values()) == len(maven) == 8800


@pytest.mark.slow
def test_maven_won_lost_and_win_rate_per_agent_match_the_csv(maven, django_assert_max_num_queries):
    first, last = whole_range(maven)
    expected = defaultdict(Counter)
    for row in maven:
        if row["deal_stage"] in ("Won", "Lost") and first <= date.fromisoformat(row["close_date"]) <= last:
            expected[row["sales_agent"]][row["deal_stage"].lower()] += 1

    with django_assert_max_num_queries(12):
        output = kpis("--from", first.isoformat(), "--to", last.isoformat(), "--json")

    payload = json.loads(output)
    by_agent = {row["rep"]: row for row in payload["reps"]}
    with open(DATA_DIR / "sales_teams.csv", newline="", encoding="utf-8") as handle:
        agents = {row["sales_agent"] for row in csv.DictReader(handle)}
    # Every agent of sales_teams.csv, also the five without a closed deal, in name order.
    assert set(by_agent) == agents
    assert len(by_agent) == len(payload["reps"]) == 35
    assert [row["rep"] for row in payload["reps"]] == sorted(agents, key=str.casefold)
    for agent, row in by_agent.items():
        won, lost = expected[agent]["won"], expected[agent]["lost"]
        assert (row["won"], row["lost"]) == (won, lost), agent
        if won + lost:
            assert row["win_rate"] == pytest.approx(won / (won + lost), rel=1e-12), agent
        else:
            assert row["win_rate"] is None, agent
    assert payload["overall"]["won"] == sum(c["won"] for c in expected.values())
    assert payload["overall"]["lost"] == sum(c["lost"] for c in expected.values())
