"""Scores, plan runs (read; managers recalculate) and KPIs through the API, with the pages' numbers."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from analytics.kpis import kpi_report
from analytics.models import CustomerScore, PlanRun
from tests.api.conftest import token_client
from tests.api.world import build_world


@pytest.fixture
def world(db):
    return build_world()


def errors(response) -> dict:
    found: dict = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


def test_scores_list_the_stored_p_and_t_highest_first(world):
    rows = token_client(world.rep).get("/api/v1/scores/").json()["results"]
    stored = list(
        CustomerScore.objects.filter(customer__owner=world.rep)
        .order_by("-p", "customer_id")
        .values_list("customer_id", "p", "t")
    )
    assert [(row["customer"], row["p"], row["t"]) for row in rows] == stored
    assert rows[0]["policy_version"] == 1


def test_a_score_is_explained_like_on_the_customer_page(world):
    body = token_client(world.rep).get(f"/api/v1/scores/{world.customer.pk}/").json()
    score = CustomerScore.objects.get(customer=world.customer)
    assert (body["p"], body["t1"], body["t2"], body["t4"]) == (score.p, score.t1, score.t2, score.t4)
    assert [line["key"] for line in body["lines"]] == ["urgency", "value", "pipeline", "effort"]
    shares = [line["term"] for line in body["lines"] if line["term"] is not None]
    assert sum(shares) == pytest.approx(score.p)  # the three weighted shares add up to P
    assert body["top_term"] in ("value", "urgency", "pipeline")
    assert body["booked_minutes"] % 5 == 0


def test_scores_filter_by_p(world):
    client = token_client(world.manager)
    every = client.get("/api/v1/scores/").json()["results"]
    threshold = sorted(row["p"] for row in every)[1]
    high = client.get(f"/api/v1/scores/?min_p={threshold}").json()["results"]
    assert [row["customer"] for row in high] == [row["customer"] for row in every if row["p"] >= threshold]


def test_plan_run_reads_with_its_progress(world):
    run = PlanRun.objects.get()
    body = token_client(world.manager).get(f"/api/v1/plan-runs/{run.pk}/").json()
    assert (body["kind"], body["status"], body["percent"], body["live"], body["stalled"]) == (
        "scores",
        "succeeded",
        100,
        False,
        False,
    )
    assert token_client(world.manager).get("/api/v1/plan-runs/?kind=plans").json()["count"] == 0


def test_recalculate_is_for_managers_and_admins(world, eager_celery, django_capture_on_commit_callbacks):
    assert token_client(world.rep).post("/api/v1/plan-runs/start/").status_code == 403
    before = PlanRun.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(world.manager).post("/api/v1/plan-runs/start/")
    assert response.status_code == 202
    # In-process (the eager worker) the nightly job has run: a scoring run and a planning run by this manager.
    new = PlanRun.objects.order_by("id")[before:]
    assert {(run.kind, run.status, run.requested_by_id) for run in new} >= {
        ("scores", "succeeded", world.manager.pk),
        ("plans", "succeeded", world.manager.pk),
    }


def test_recalculate_while_a_run_is_live_is_a_conflict(world):
    now = timezone.now()
    live = PlanRun.objects.create(
        kind=PlanRun.Kind.PLANS,
        status=PlanRun.Status.RUNNING,
        as_of=now,
        started_at=now,
        total=5,
        done=2,
        lease_expires_at=now + timedelta(minutes=5),
    )
    response = token_client(world.admin).post("/api/v1/plan-runs/start/")
    assert response.status_code == 409
    assert errors(response) == {None: [f"A run is already in progress (#{live.pk}, 2/5)."]}


# -- KPIs ------------------------------------------------------------------------------------------


def test_kpis_are_the_reports_figures(world):
    response = token_client(world.manager).get("/api/v1/kpis/?period=custom&date_from=2026-01-01&date_to=2026-12-31")
    assert response.status_code == 200, response.json()
    body = response.json()
    rep_ids = sorted([world.rep.pk, world.teammate.pk])
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    report = kpi_report(rep_ids=rep_ids, period_start=start, period_end=end)
    assert body["overall"] == pytest.approx(report.overall.as_dict())
    assert body["overall"]["won"] == 1  # the rep's won deal; the other team's is not the manager's
    assert sorted(rep["rep_id"] for rep in body["reps"]) == rep_ids
    assert (body["period_start"], body["period_end"]) == ("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert [row["code"] for row in body["funnel"]][:3] == ["discovery", "communication", "follow-up"]


def test_kpis_of_one_rep_and_refusals(world):
    manager = token_client(world.manager)
    one = manager.get(f"/api/v1/kpis/?rep={world.rep.pk}").json()
    assert [rep["rep_id"] for rep in one["reps"]] == [world.rep.pk]
    assert manager.get(f"/api/v1/kpis/?rep={world.other_rep.pk}").status_code == 404
    other_team = world.other_rep.rep_profile.team_id
    assert manager.get(f"/api/v1/kpis/?team={other_team}").status_code == 404
    assert token_client(world.admin).get(f"/api/v1/kpis/?team={other_team}").status_code == 200
    assert token_client(world.rep).get("/api/v1/kpis/").status_code == 403
    backwards = manager.get("/api/v1/kpis/?period=custom&date_from=2026-02-01&date_to=2026-01-01")
    assert errors(backwards) == {
        "date_to": ["The last day must not be before the first, and a period is at most 3 years."]
    }
    assert set(errors(manager.get("/api/v1/kpis/?period=week&on=someday"))) == {"period", "on"}
