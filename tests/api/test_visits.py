"""Visits and follow-ups through the API: the pages' services and rules, with errors naming the field."""

from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from crm.models import Need
from tests.api.conftest import token_client
from tests.api.world import build_world
from tests.factories import CustomerFactory
from visits.models import FollowUp, Visit

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # a Monday; TIME_ZONE is UTC in the tests
TUESDAY_10 = "2026-11-24T10:00:00Z"


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)


@pytest.fixture
def world(db):
    return build_world(score=False)


def errors(response) -> dict[str | None, list[str]]:
    found: dict[str | None, list[str]] = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


# -- reading ---------------------------------------------------------------------------------------


def test_a_visit_reads_as_the_page_shows_it(world):
    body = token_client(world.rep).get(f"/api/v1/visits/{world.visit_checked_in.pk}/").json()
    assert body["customer"] == world.customer.pk
    assert body["customer_name"] == "Boulangerie Martin"
    assert body["rep"] == world.rep.pk
    assert body["status"] == "checked_in"
    assert body["check_in_result"] == "unverified"
    assert body["outcome"] == ""
    assert body["planned_start"] == "2026-11-23T06:30:00Z"


def test_visit_filters(world):
    client = token_client(world.rep)
    assert client.get("/api/v1/visits/?status=completed").json()["count"] == 1
    assert client.get("/api/v1/visits/?status=completed&status=checked_in").json()["count"] == 2
    after = client.get("/api/v1/visits/?planned_after=2026-11-24T00:00:00Z").json()
    assert [row["id"] for row in after["results"]] == [world.visit_future.pk]
    assert client.get(f"/api/v1/visits/?customer={world.customer.pk}").json()["count"] == 4
    bad = client.get("/api/v1/visits/?status=flying&rep=x")
    assert bad.status_code == 400
    assert set(errors(bad)) == {"status", "rep"}


# -- check-in, report, check-out -------------------------------------------------------------------


def test_check_in_verifies_the_position_like_the_page(world):
    response = token_client(world.rep).post(
        f"/api/v1/visits/{world.visit_today.pk}/check-in/", {"latitude": 48.854, "longitude": 2.35}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "checked_in"
    assert body["check_in_result"] == "verified"
    # 0.001 degree of latitude north of the customer: 111.195 m (R = 6371.0088 km).
    assert body["check_in_distance_m"] == pytest.approx(111.195, abs=0.01)
    assert body["checked_in_at"] == "2026-11-23T07:00:00Z"


def test_check_in_refusals_name_the_field(world):
    client = token_client(world.rep)
    half = client.post(f"/api/v1/visits/{world.visit_today.pk}/check-in/", {"latitude": 48.85})
    assert half.status_code == 400
    assert errors(half) == {None: ["Send both latitude and longitude, or neither."]}
    out_of_range = client.post(f"/api/v1/visits/{world.visit_today.pk}/check-in/", {"latitude": 91, "longitude": 0})
    assert errors(out_of_range) == {"latitude": ["Ensure this value is less than or equal to 90."]}
    future = client.post(f"/api/v1/visits/{world.visit_future.pk}/check-in/", {})
    assert errors(future) == {
        "planned_start": ["This visit is planned for 2026-11-30: check in on that day, or move it to today first."]
    }
    twice = client.post(f"/api/v1/visits/{world.visit_checked_in.pk}/check-in/", {})
    assert errors(twice) == {
        "status": ["Only a planned or confirmed visit can be checked in (this one is checked in)."]
    }
    assert Visit.objects.get(pk=world.visit_today.pk).status == "confirmed"


def test_report_and_check_out_in_one_request(world):
    response = token_client(world.rep).post(
        f"/api/v1/visits/{world.visit_checked_in.pk}/report/",
        {
            "outcome": "follow_up",
            "notes": "Discussed the spring range.",
            "actual_satisfaction": 4,
            "expected_satisfaction": 3,
            "needs": [{"description": "Gluten-free flour", "satisfied": True}, {"description": "Weekend delivery"}],
            "follow_ups": [{"title": "Send samples", "due_date": "2026-11-25"}],
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["outcome"], body["needs_raised"], body["needs_satisfied"]) == (
        "completed",
        "follow_up",
        2,
        1,
    )
    assert body["checked_out_at"] == body["report_filed_at"] == "2026-11-23T07:00:00Z"
    needs = Need.objects.filter(visit=world.visit_checked_in, customer=world.customer).order_by("description")
    assert list(needs.values_list("description", "satisfied")) == [
        ("Gluten-free flour", True),
        ("Weekend delivery", False),
    ]
    task = FollowUp.objects.get(visit=world.visit_checked_in)
    assert (task.title, task.due_date, task.assignee) == ("Send samples", date(2026, 11, 25), world.rep)


def test_report_without_check_out_keeps_the_visit_checked_in(world):
    response = token_client(world.rep).post(
        f"/api/v1/visits/{world.visit_checked_in.pk}/report/", {"outcome": "absent", "check_out": False}
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["outcome"]) == ("checked_in", "absent")


def test_report_errors_name_every_field_at_fault(world):
    client = token_client(world.rep)
    parsed = client.post(
        f"/api/v1/visits/{world.visit_checked_in.pk}/report/",
        {"outcome": "great", "actual_satisfaction": 6, "follow_ups": [{"title": "", "due_date": "soon"}]},
    )
    assert parsed.status_code == 400
    assert set(errors(parsed)) == {
        "outcome",
        "actual_satisfaction",
        "follow_ups.0.title",
        "follow_ups.0.due_date",
    }
    # The service's rules, as on the report page: notes and both satisfactions unless absent; no past due date.
    refused = client.post(
        f"/api/v1/visits/{world.visit_checked_in.pk}/report/",
        {"outcome": "successful", "follow_ups": [{"title": "Call", "due_date": "2026-11-01"}]},
    )
    assert errors(refused) == {
        "notes": ["Write a few words about the visit."],
        "actual_satisfaction": ["Give a satisfaction from 1 to 5."],
        "expected_satisfaction": ["Give a satisfaction from 1 to 5."],
        "follow_ups": ["A follow-up cannot be due in the past."],
    }
    assert Visit.objects.get(pk=world.visit_checked_in.pk).report_filed_at is None


def test_check_out_then_report_later(world):
    client = token_client(world.rep)
    out = client.post(f"/api/v1/visits/{world.visit_checked_in.pk}/check-out/", {})
    assert (out.status_code, out.json()["status"]) == (200, "completed")
    again = client.post(f"/api/v1/visits/{world.visit_checked_in.pk}/check-out/", {})
    assert errors(again) == {"status": ["Only a checked-in visit can be checked out."]}
    later = client.post(f"/api/v1/visits/{world.visit_checked_in.pk}/report/", {"outcome": "absent"})
    assert (later.status_code, later.json()["status"]) == (200, "completed")
    twice = client.post(f"/api/v1/visits/{world.visit_checked_in.pk}/report/", {"outcome": "absent"})
    assert errors(twice) == {"status": ["The report of this visit has already been filed."]}


# -- planning: book, move, confirm, cancel ---------------------------------------------------------


def test_rep_books_a_manual_visit(world):
    response = token_client(world.rep).post(
        "/api/v1/visits/", {"customer": world.customer.pk, "start": TUESDAY_10, "minutes": 30, "goal": " Renewal "}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["rep"], body["planned_start"], body["planned_minutes"], body["goal"]) == (
        world.rep.pk,
        TUESDAY_10,
        30,
        "Renewal",
    )
    assert (body["status"], body["origin"]) == ("confirmed", "manual")


def test_a_rep_cannot_book_for_another_rep_or_another_reps_customer(world):
    client = token_client(world.rep)
    for_teammate = client.post(
        "/api/v1/visits/", {"rep": world.teammate.pk, "customer": world.customer.pk, "start": TUESDAY_10}
    )
    assert errors(for_teammate) == {"rep": ["Pick a rep of yours."]}
    theirs = client.post("/api/v1/visits/", {"customer": world.other_customer.pk, "start": TUESDAY_10})
    assert errors(theirs) == {"customer": ["Pick one of your customers."]}
    assert not Visit.objects.filter(planned_start=datetime(2026, 11, 24, 10, tzinfo=UTC)).exists()


def test_a_manager_books_for_a_team_rep_only_to_that_reps_customers(world):
    client = token_client(world.manager)
    teammates_customer = CustomerFactory(owner=world.teammate, name="Teammate Co")
    refused = client.post(
        "/api/v1/visits/", {"rep": world.rep.pk, "customer": teammates_customer.pk, "start": TUESDAY_10}
    )
    assert errors(refused) == {"customer": [f"Teammate Co is not one of {world.rep.get_full_name()}'s customers."]}
    booked = client.post("/api/v1/visits/", {"rep": world.rep.pk, "customer": world.customer.pk, "start": TUESDAY_10})
    assert booked.status_code == 201
    assert booked.json()["rep"] == world.rep.pk


def test_booking_rules_are_the_calendars(world):
    client = token_client(world.rep)
    lunch = client.post("/api/v1/visits/", {"customer": world.customer.pk, "start": "2026-11-24T11:45:00Z"})
    assert errors(lunch) == {"start": ["11:45–12:30 overlaps the lunch break (12:00–13:00)."]}
    past = client.post("/api/v1/visits/", {"customer": world.customer.pk, "start": "2026-11-20T10:00:00Z"})
    assert errors(past) == {"start": ["Fri 20 Nov 10:00 is in the past."]}
    short = client.post("/api/v1/visits/", {"customer": world.customer.pk, "start": TUESDAY_10, "minutes": 2})
    assert errors(short) == {"minutes": ["Ensure this value is greater than or equal to 5."]}
    silly = client.post("/api/v1/visits/", {"customer": world.customer.pk, "start": "20256-01-01T10:00:00Z"})
    assert set(errors(silly)) == {"start"}
    far = client.post("/api/v1/visits/", {"customer": world.customer.pk, "start": "9999-12-31T23:00:00-12:00"})
    assert set(errors(far)) == {"start"}


def test_move_confirm_cancel(world):
    client = token_client(world.rep)
    url = f"/api/v1/visits/{world.visit_future.pk}"
    moved = client.post(f"{url}/move/", {"start": "2026-11-25T14:00:00Z"})
    assert (moved.status_code, moved.json()["planned_start"], moved.json()["status"]) == (
        200,
        "2026-11-25T14:00:00Z",
        "confirmed",
    )
    confirmed = client.post(f"{url}/confirm/")
    assert errors(confirmed) == {None: ["Only planned visits can be confirmed; this one is confirmed."]}
    no_reason = client.post(f"{url}/cancel/", {"reason": ""})
    assert errors(no_reason) == {"reason": ["This field may not be blank."]}
    cancelled = client.post(f"{url}/cancel/", {"reason": "Customer on holiday"})
    assert (cancelled.json()["status"], cancelled.json()["cancel_reason"]) == ("cancelled", "Customer on holiday")


# -- follow-ups ------------------------------------------------------------------------------------


def test_follow_up_done_and_reopen(world):
    client = token_client(world.rep)
    url = f"/api/v1/follow-ups/{world.follow_up.pk}"
    done = client.post(f"{url}/done/").json()
    assert (done["is_done"], done["done_at"]) == (True, "2026-11-23T07:00:00Z")
    assert client.post(f"{url}/done/").json()["done_at"] == "2026-11-23T07:00:00Z"
    assert client.get("/api/v1/follow-ups/?state=open").json()["count"] == 0
    assert client.post(f"{url}/reopen/").json()["is_done"] is False
    assert client.get("/api/v1/follow-ups/?state=open").json()["count"] == 1


def test_a_manager_acts_on_a_team_reps_visit(world):
    response = token_client(world.manager).post(f"/api/v1/visits/{world.visit_today.pk}/check-in/", {})
    assert (response.status_code, response.json()["status"]) == (200, "checked_in")
