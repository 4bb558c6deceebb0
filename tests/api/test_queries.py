"""List endpoints read a page in a fixed number of queries, however many rows it has (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.services import scores_recalculate
from tests.api.conftest import token_client
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    FollowUpFactory,
    OpportunityFactory,
    OrderFactory,
    VisitFactory,
)

LISTS = [
    "/api/v1/customers/",
    "/api/v1/contacts/",
    "/api/v1/visits/",
    "/api/v1/follow-ups/",
    "/api/v1/opportunities/",
    "/api/v1/orders/",
    "/api/v1/scores/",
    "/api/v1/plan-runs/",
    "/api/v1/tokens/",
    "/api/v1/products/",
    "/api/v1/stages/",
]
# Token lookup, the user's groups, the page's count and rows, and at most a few per endpoint (the
# segment choices of the customer filter, the owner choices of the opportunity filter).
MAX_QUERIES = 7


def add_rows(rep, count: int) -> None:
    for _ in range(count):
        customer = CustomerFactory(owner=rep)
        ContactFactory(customer=customer)
        FollowUpFactory(visit=VisitFactory(customer=customer))
        OpportunityFactory(customer=customer)
        OrderFactory(opportunity=OpportunityFactory(customer=customer))


def queries_per_list(client) -> dict[str, int]:
    counts = {}
    for url in LISTS:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200, url
        counts[url] = len(captured)
    return counts


@pytest.mark.parametrize("who", ["rep", "manager"])
def test_list_queries_do_not_grow_with_the_rows(rep, manager, who, django_assert_max_num_queries):
    client = token_client(rep if who == "rep" else manager)
    client.get("/api/v1/me/")  # the token's first use writes last_used_at once
    add_rows(rep, 2)
    scores_recalculate()
    few = queries_per_list(client)
    add_rows(rep, 12)
    scores_recalculate()
    many = queries_per_list(client)
    assert many == few
    for url in LISTS:
        with django_assert_max_num_queries(MAX_QUERIES):
            client.get(url)


def test_kpis_read_in_a_bounded_number_of_queries(rep, manager, django_assert_max_num_queries):
    client = token_client(manager)
    client.get("/api/v1/me/")
    add_rows(rep, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/kpis/").status_code == 200
    add_rows(rep, 10)
    with django_assert_max_num_queries(len(few)):
        assert client.get("/api/v1/kpis/").status_code == 200
