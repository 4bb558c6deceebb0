"""Customers and contacts through the API: the customers page's filter and figures; managers reassign."""

import pytest

from crm.models import Customer
from tests.api.conftest import token_client
from tests.api.world import build_world
from tests.factories import RepProfileFactory, VisitFactory
from visits.models import Visit


@pytest.fixture
def world(db):
    return build_world()


def errors(response) -> dict:
    found: dict = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


def test_a_customer_carries_the_lists_figures(world):
    body = token_client(world.rep).get(f"/api/v1/customers/{world.customer.pk}/").json()
    completed = Visit.objects.get(pk=world.visit_completed.pk)
    assert body["name"] == "Boulangerie Martin"
    assert body["owner"] == world.rep.pk
    assert body["owner_name"] == world.rep.get_full_name()
    assert body["annual_value"] == "10000.00"
    assert body["last_visit_at"] == completed.checked_out_at.isoformat().replace("+00:00", "Z")
    assert body["is_overdue"] is False  # visited two days ago, cadence 30 days
    assert body["priority"] == world.customer.score.p


def test_the_customers_pages_filters_and_sorts(world):
    client = token_client(world.rep)
    assert [row["name"] for row in client.get("/api/v1/customers/?q=lune").json()["results"]] == ["Café Lune"]
    assert [row["name"] for row in client.get("/api/v1/customers/?tier=A").json()["results"]] == ["Café Lune"]
    # Never visited: overdue. Sorted by name.
    overdue = client.get("/api/v1/customers/?overdue=yes&sort=name").json()["results"]
    assert [row["name"] for row in overdue] == ["Café Lune"]
    by_name = client.get("/api/v1/customers/?sort=name").json()["results"]
    assert [row["name"] for row in by_name] == ["Boulangerie Martin", "Café Lune"]
    bad = client.get("/api/v1/customers/?tier=Z&segment=nope&sort=height")
    assert bad.status_code == 400
    assert set(errors(bad)) == {"tier", "segment", "sort"}


def test_contacts_of_visible_customers(world):
    client = token_client(world.rep)
    rows = client.get("/api/v1/contacts/").json()["results"]
    assert [(row["name"], row["customer"], row["is_primary"]) for row in rows] == [
        ("Marie Martin", world.customer.pk, True)
    ]
    assert client.get(f"/api/v1/contacts/?customer={world.other_customer.pk}").json()["count"] == 0


def test_a_manager_reassigns_within_their_teams(world):
    future = VisitFactory(customer=world.customer, origin=Visit.Origin.PLANNER)
    client = token_client(world.manager)
    response = client.post(f"/api/v1/customers/{world.customer.pk}/reassign/", {"owner": world.teammate.pk})
    assert response.status_code == 200, response.json()
    assert response.json()["changed"] == 1
    assert response.json()["customer"]["owner"] == world.teammate.pk
    # The unconfirmed planner visit follows the customer; the confirmed one stays with its rep.
    assert Visit.objects.get(pk=future.pk).rep == world.teammate
    assert Visit.objects.get(pk=world.visit_today.pk).rep == world.rep
    outside = client.post(f"/api/v1/customers/{world.customer.pk}/reassign/", {"owner": world.other_rep.pk})
    assert errors(outside) == {"owner": ["Pick an active rep of your teams."]}


def test_reps_may_not_reassign_and_admins_may_anywhere(world):
    refused = token_client(world.rep).post(f"/api/v1/customers/{world.customer.pk}/reassign/", {"owner": world.rep.pk})
    assert refused.status_code == 403
    new_rep = RepProfileFactory(user__username="newcomer").user
    done = token_client(world.admin).post(f"/api/v1/customers/{world.customer.pk}/reassign/", {"owner": new_rep.pk})
    assert done.status_code == 200
    assert Customer.objects.get(pk=world.customer.pk).owner == new_rep


def test_an_inactive_rep_is_no_choice(world):
    world.teammate.is_active = False
    world.teammate.save()
    response = token_client(world.manager).post(
        f"/api/v1/customers/{world.customer.pk}/reassign/", {"owner": world.teammate.pk}
    )
    assert errors(response) == {"owner": ["Pick an active rep of your teams."]}
    assert Customer.objects.get(pk=world.customer.pk).owner == world.rep
