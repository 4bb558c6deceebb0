"""Scope: the URL-tampering matrix over every object URL and method, and what each role lists.

The matrix is built from the API's own schema, so an endpoint added later is in it (or the
test says which object it needs). For every path with an id and every method, another
user's object answers 404, exactly as a missing one would, and is left unchanged.
"""

import json

import pytest
import yaml
from django.urls import reverse
from rest_framework.test import APIClient

from analytics.models import PlanRun
from api.models import ApiToken
from api.tokens import api_token_create
from sales.models import Product
from tests.api.conftest import token_client
from tests.api.world import build_world
from visits.models import FollowUp, Visit


@pytest.fixture
def world(db):
    return build_world()


# Reference data every user reads alike: not owned by anyone, so not in the matrix.
SHARED = {"products"}


def object_paths() -> list[tuple[str, str]]:
    """(method, path template) of every operation on one owned object, from /api/schema/."""
    schema = yaml.safe_load(APIClient().get(reverse("api:schema")).content)
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if "{" in path and path.split("/")[3] not in SHARED
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    )


def foreign_ids(world) -> dict[str, int]:
    """The first path segment after /api/v1/ -> the id of an object of `other_rep` (another team)."""
    other_token = api_token_create(user=world.other_rep, name="theirs").token
    run = PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES, status=PlanRun.Status.SUCCEEDED, as_of=world.order.ordered_at
    )
    return {
        "customers": world.other_customer.pk,
        "contacts": world.other_customer.contacts.get().pk,
        "visits": world.other_visit.pk,
        "follow-ups": world.other_follow_up.pk,
        "opportunities": world.other_opportunity.pk,
        "orders": world.other_order.pk,
        "scores": world.other_customer.pk,
        "tokens": other_token.pk,
        "plan-runs": run.pk,  # company-wide: a rep sees none of them
    }


def state(world) -> dict:
    """What a request on the other rep's objects must not change."""
    other_visit = Visit.objects.get(pk=world.other_visit.pk)
    return {
        "visit": (
            other_visit.status,
            other_visit.planned_start,
            other_visit.checked_in_at,
            other_visit.report_filed_at,
        ),
        "follow_up": FollowUp.objects.get(pk=world.other_follow_up.pk).done_at,
        "opportunity": world.other_opportunity.__class__.objects.filter(pk=world.other_opportunity.pk)
        .values_list("stage_id", "probability", "closed_at")
        .get(),
        "order": world.other_order.__class__.objects.filter(pk=world.other_order.pk).values_list("fulfilled_at").get(),
        "customer_owner": world.other_customer.__class__.objects.get(pk=world.other_customer.pk).owner_id,
        "tokens": list(ApiToken.objects.filter(user=world.other_rep).values_list("pk", "revoked_at")),
        "visits": Visit.objects.count(),
    }


BODIES = {
    # A body that would succeed on one's own object, so only the scope can refuse it.
    "move": {"start": "2030-01-07T10:00:00Z", "stage": "communication"},
    "cancel": {"reason": "Tampering"},
    "report": {"outcome": "absent"},
    "reassign": {"owner": None},
    "lose": {"reason": "Tampering"},
    "probability": {"probability": "0.5"},
}


def test_the_matrix_covers_every_object_url(world):
    ids = foreign_ids(world)
    resources = {path.split("/")[3] for _method, path in object_paths()}
    assert resources <= set(ids), f"add an object of another rep for: {sorted(resources - set(ids))}"
    assert len(object_paths()) >= 24


@pytest.mark.parametrize("who", ["rep", "teammate", "manager"])
def test_another_reps_object_is_404_for_every_url_and_method(world, who):
    """Another team's rep's objects, to a rep, to a rep of the same team, and to the other team's manager."""
    user = getattr(world, who)
    client = token_client(user)
    ids = foreign_ids(world)
    before = state(world)
    checked = []
    for method, template in object_paths():
        resource = template.split("/")[3]
        if resource == "plan-runs" and who == "manager":
            continue  # runs are company-wide: every manager sees them
        path = template.replace("{id}", str(ids[resource])).replace("{customer}", str(ids[resource]))
        action = path.rstrip("/").rsplit("/", 1)[-1]
        body = BODIES.get(action, {})
        if action == "reassign":
            body = {"owner": user.pk}
        response = client.generic(method, path, data=json.dumps(body), content_type="application/json")
        assert response.status_code == 404, f"{method} {path} as {who}: {response.status_code} {response.content[:200]}"
        assert response.json()["errors"][0]["code"] == "not_found"
        checked.append(f"{method} {template}")
    assert state(world) == before
    assert len(checked) >= 22


def test_undeclared_methods_answer_the_same_for_a_foreign_and_a_missing_object(world):
    """PUT, PATCH and DELETE where they do not exist: 405 either way, telling nothing about the object."""
    client = token_client(world.rep)
    ids = foreign_ids(world)
    declared = set(object_paths())
    templates = {template for _method, template in declared}
    for template in sorted(templates):
        resource = template.split("/")[3]
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if (method, template) in declared:
                continue
            foreign = template.replace("{id}", str(ids[resource])).replace("{customer}", str(ids[resource]))
            missing = template.replace("{id}", "987654").replace("{customer}", "987654")
            answers = [client.generic(method, url).status_code for url in (foreign, missing)]
            assert answers[0] == answers[1] == 405, f"{method} {template}: {answers}"


def test_a_manager_of_another_team_gets_404_on_this_teams_objects(world):
    """The north team's manager cannot reach the south rep's objects either."""
    client = token_client(world.manager)
    for url in (
        f"/api/v1/visits/{world.other_visit.pk}/",
        f"/api/v1/customers/{world.other_customer.pk}/",
        f"/api/v1/opportunities/{world.other_opportunity.pk}/",
        f"/api/v1/orders/{world.other_order.pk}/",
        f"/api/v1/follow-ups/{world.other_follow_up.pk}/",
        f"/api/v1/scores/{world.other_customer.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/api/v1/visits/{world.other_visit.pk}/check-in/", {}).status_code == 404


def test_a_missing_object_and_a_foreign_one_answer_alike(world):
    client = token_client(world.rep)
    foreign = client.get(f"/api/v1/visits/{world.other_visit.pk}/")
    missing = client.get("/api/v1/visits/987654/")
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())


# -- what each role lists ---------------------------------------------------------------------------


def listed(client, url: str) -> set:
    body = client.get(url).json()
    rows = body["results"] if isinstance(body, dict) else body
    key = "customer" if "/scores/" in url else "id"
    return {row[key] for row in rows}


def test_each_role_lists_its_scope(world):
    from crm.models import Contact, Customer
    from sales.models import Opportunity, Order

    rep_customers = set(Customer.objects.filter(owner=world.rep).values_list("pk", flat=True))
    north_customers = set(Customer.objects.filter(owner__in=[world.rep, world.teammate]).values_list("pk", flat=True))
    all_customers = set(Customer.objects.values_list("pk", flat=True))
    assert (len(rep_customers), len(north_customers), len(all_customers)) == (2, 3, 4)

    expected = {
        "rep": rep_customers,
        "manager": north_customers,
        "admin": all_customers,
    }
    for who, customers in expected.items():
        client = token_client(getattr(world, who))
        assert listed(client, "/api/v1/customers/") == customers, who
        assert listed(client, "/api/v1/scores/") == customers, who
        assert listed(client, "/api/v1/contacts/") == set(
            Contact.objects.filter(customer__in=customers).values_list("pk", flat=True)
        ), who
        assert listed(client, "/api/v1/visits/") == set(
            Visit.objects.filter(customer__in=customers).values_list("pk", flat=True)
        ), who
        assert listed(client, "/api/v1/follow-ups/") == set(
            FollowUp.objects.filter(visit__customer__in=customers).values_list("pk", flat=True)
        ), who
        assert listed(client, "/api/v1/opportunities/") == set(
            Opportunity.objects.filter(customer__in=customers).values_list("pk", flat=True)
        ), who
        assert listed(client, "/api/v1/orders/") == set(
            Order.objects.filter(opportunity__customer__in=customers).values_list("pk", flat=True)
        ), who


def test_plan_runs_are_listed_for_managers_and_admins_only(world):
    runs = set(PlanRun.objects.values_list("pk", flat=True))
    assert runs  # the world's scoring run
    assert listed(token_client(world.rep), "/api/v1/plan-runs/") == set()
    assert listed(token_client(world.manager), "/api/v1/plan-runs/") == runs
    assert listed(token_client(world.admin), "/api/v1/plan-runs/") == runs
    run = PlanRun.objects.first()
    assert token_client(world.rep).get(f"/api/v1/plan-runs/{run.pk}/").status_code == 404
    assert token_client(world.manager).get(f"/api/v1/plan-runs/{run.pk}/").json()["id"] == run.pk


def test_a_query_string_never_widens_or_hides_the_scope(world):
    client = token_client(world.rep)
    # Filtering by another rep's id finds nothing rather than their visits.
    assert client.get(f"/api/v1/visits/?rep={world.other_rep.pk}").json()["count"] == 0
    # A filter on an object URL is ignored: one's own object stays reachable.
    response = client.get(f"/api/v1/visits/{world.visit_today.pk}/?status=cancelled")
    assert response.status_code == 200


def own_ids(world) -> dict[str, int]:
    """The first path segment after /api/v1/ -> the id of an object of `rep` (in the manager's team)."""
    return {
        "customers": world.customer.pk,
        "contacts": world.customer.contacts.get().pk,
        "visits": world.visit_today.pk,
        "follow-ups": world.follow_up.pk,
        "opportunities": world.opportunity.pk,
        "orders": world.order.pk,
        "scores": world.customer.pk,
        "plan-runs": PlanRun.objects.first().pk,
        "products": Product.objects.first().pk,
    }


# What a role gets on every read of the rep's data; anything not listed is 200.
READ_EXCEPTIONS = {
    ("rep", "/api/v1/plan-runs/{id}/"): 404,  # runs are for managers and admins
    ("rep", "/api/v1/kpis/"): 403,
}


@pytest.mark.parametrize("who", ["rep", "manager", "admin"])
def test_every_read_endpoint_answers_each_role(world, who):
    client = token_client(getattr(world, who))
    ids = own_ids(world)
    reads = [path for method, path in all_operations() if method == "GET"]
    assert len(reads) >= 20
    for template in reads:
        resource = template.split("/")[3]
        path = template.replace("{id}", str(ids.get(resource, 0))).replace("{customer}", str(ids.get(resource, 0)))
        if resource == "tokens" and "{id}" in template:
            path = template.replace("{id}", str(client.get("/api/v1/tokens/").json()["results"][0]["id"]))
        expected = READ_EXCEPTIONS.get((who, template), 200)
        response = client.get(path)
        assert response.status_code == expected, f"GET {path} as {who}: {response.status_code}"


def all_operations() -> list[tuple[str, str]]:
    schema = yaml.safe_load(APIClient().get(reverse("api:schema")).content)
    return sorted((method.upper(), path) for path, operations in schema["paths"].items() for method in operations)
