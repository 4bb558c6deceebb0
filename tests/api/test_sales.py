"""The pipeline through the API: the board's services (moves recorded, win makes the order, lose needs a reason)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from sales.models import Opportunity, Order, StageChange
from tests.api.conftest import token_client
from tests.api.world import build_world
from tests.factories import ProductFactory

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def world(db):
    return build_world(score=False)


def errors(response) -> dict:
    found: dict = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


def test_stages_and_products_are_reference_data_for_everyone(world):
    client = token_client(world.rep)
    stages = client.get("/api/v1/stages/").json()
    assert [row["code"] for row in stages] == ["discovery", "communication", "follow-up", "won", "lost"]
    assert stages[0]["default_probability"] == "0.100"
    assert client.get("/api/v1/products/").json()["count"] == 4


def test_move_records_the_change_and_takes_the_stage_default(world):
    client = token_client(world.rep)
    response = client.post(f"/api/v1/opportunities/{world.opportunity.pk}/move/", {"stage": "communication"})
    assert response.status_code == 200
    body = response.json()
    assert (body["stage"], body["probability"], body["chance"], body["weighted"]) == (
        "communication",
        "0.300",
        "0.300",
        "1500.00",
    )
    change = StageChange.objects.filter(opportunity=world.opportunity).latest("id")
    assert (change.from_stage.code, change.to_stage.code, change.changed_by, change.changed_at) == (
        "discovery",
        "communication",
        world.rep,
        NOW,
    )


def test_a_hand_set_probability_sticks_across_moves(world):
    client = token_client(world.rep)
    url = f"/api/v1/opportunities/{world.opportunity.pk}"
    assert client.post(f"{url}/probability/", {"probability": "0.45"}).json()["probability"] == "0.450"
    moved = client.post(f"{url}/move/", {"stage": "follow-up"}).json()
    assert (moved["probability"], moved["probability_manual"], moved["chance"]) == ("0.450", True, "0.450")
    too_big = client.post(f"{url}/probability/", {"probability": "1.5"})
    assert errors(too_big) == {"probability": ["Ensure this value is less than or equal to 1."]}


def test_win_creates_the_order_and_a_closed_deal_never_moves(world):
    client = token_client(world.rep)
    url = f"/api/v1/opportunities/{world.opportunity.pk}"
    won = client.post(f"{url}/win/", {}).json()
    order = Order.objects.get(opportunity=world.opportunity)
    assert (won["stage"], won["order"], won["closed_at"]) == ("won", order.pk, "2026-11-23T07:00:00Z")
    assert order.amount == Decimal("5000.00")
    refused = client.post(f"{url}/move/", {"stage": "discovery"})
    assert errors(refused) == {
        "stage": ["This opportunity is closed as Won: a closed opportunity cannot change stage."]
    }


def test_lose_needs_a_reason(world):
    client = token_client(world.rep)
    url = f"/api/v1/opportunities/{world.opportunity.pk}"
    assert errors(client.post(f"{url}/move/", {"stage": "lost"})) == {"reason": ["Say why the opportunity was lost."]}
    assert errors(client.post(f"{url}/lose/", {})) == {"reason": ["This field is required."]}
    lost = client.post(f"{url}/lose/", {"reason": "Went with a competitor"}).json()
    assert (lost["stage"], lost["lost_reason"]) == ("lost", "Went with a competitor")


def test_moments_in_the_future_are_refused(world):
    response = token_client(world.rep).post(
        f"/api/v1/opportunities/{world.opportunity.pk}/move/",
        {"stage": "communication", "moved_at": "2026-12-01T00:00:00Z"},
    )
    assert errors(response) == {"moved_at": ["This moment is in the future."]}


def test_open_an_opportunity(world):
    client = token_client(world.rep)
    product = ProductFactory(name="Oven")
    created = client.post(
        "/api/v1/opportunities/",
        {"customer": world.customer.pk, "product": product.pk, "amount": "1200.50", "expected_close": "2027-01-15"},
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["owner"], body["stage"], body["amount"], body["probability"], body["expected_close"]) == (
        world.rep.pk,
        "discovery",
        "1200.50",
        "0.100",
        "2027-01-15",
    )
    first = StageChange.objects.get(opportunity_id=body["id"])
    assert (first.from_stage, first.to_stage.code) == (None, "discovery")


def test_a_rep_cannot_open_for_another_rep_or_on_another_reps_customer(world):
    client = token_client(world.rep)
    response = client.post(
        "/api/v1/opportunities/", {"owner": world.teammate.pk, "customer": world.other_customer.pk, "amount": "1"}
    )
    assert errors(response) == {
        "owner": ["You may only open opportunities for yourself or the reps of your teams."],
        "customer": ["Pick one of your customers."],
    }
    closed = client.post("/api/v1/opportunities/", {"customer": world.customer.pk, "amount": "1", "stage": "won"})
    assert errors(closed) == {"stage": ["A new opportunity starts in an open stage."]}
    negative = client.post("/api/v1/opportunities/", {"customer": world.customer.pk, "amount": "-1"})
    assert errors(negative) == {"amount": ["Ensure this value is greater than or equal to 0."]}
    assert Opportunity.objects.count() == 4


def test_a_manager_opens_one_for_a_team_rep_on_that_reps_customer(world):
    client = token_client(world.manager)
    response = client.post(
        "/api/v1/opportunities/", {"owner": world.rep.pk, "customer": world.customer.pk, "amount": "10"}
    )
    assert (response.status_code, response.json()["owner"]) == (201, world.rep.pk)


def test_opportunity_filters_take_the_pages_parameters(world):
    client = token_client(world.manager)
    assert client.get("/api/v1/opportunities/?status=closed").json()["count"] == 1
    assert client.get("/api/v1/opportunities/?stage=won").json()["count"] == 1
    assert client.get(f"/api/v1/opportunities/?owner={world.rep.pk}").json()["count"] == 2
    assert client.get("/api/v1/opportunities/?q=boulang").json()["count"] == 2
    rows = client.get("/api/v1/opportunities/?sort=-amount").json()["results"]
    assert len(rows) == 2
    bad = client.get(f"/api/v1/opportunities/?owner={world.other_rep.pk}&stage=nope&sort=height")
    assert set(errors(bad)) == {"owner", "stage", "sort"}


def test_fulfil_an_order_once(world):
    client = token_client(world.rep)
    url = f"/api/v1/orders/{world.order.pk}/fulfil/"
    before = client.post(url, {"fulfilled_at": "2026-11-01T00:00:00Z"})
    assert errors(before) == {
        "fulfilled_at": ["This moment is before the opportunity's last change (2026-11-20 07:00)."]
    }
    done = client.post(url, {})
    assert (done.json()["is_fulfilled"], done.json()["fulfilled_at"]) == (True, "2026-11-23T07:00:00Z")
    again = client.post(url, {})
    assert errors(again) == {"fulfilled_at": ["This order was already fulfilled on 2026-11-23."]}
    assert client.get("/api/v1/orders/?fulfilled=yes").json()["count"] == 1
