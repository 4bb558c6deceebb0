"""One error body for every failure, naming the field at fault, and JSON even for a URL that is no endpoint."""

import pytest
from rest_framework.exceptions import ErrorDetail
from rest_framework.test import APIClient

from api.errors import flatten
from tests.api.conftest import token_client
from tests.factories import CustomerFactory


@pytest.fixture
def client(rep):
    return token_client(rep)


def test_nested_errors_are_flattened_with_dotted_field_paths():
    detail = {
        "non_field_errors": [ErrorDetail("Whole thing wrong", code="invalid")],
        "needs": [{}, {"description": [ErrorDetail("Required", code="required")]}],
        "start": [ErrorDetail("Bad", code="invalid"), ErrorDetail("Worse", code="past")],
    }
    assert flatten(detail) == [
        {"field": None, "code": "invalid", "message": "Whole thing wrong"},
        {"field": "needs.1.description", "code": "required", "message": "Required"},
        {"field": "start", "code": "invalid", "message": "Bad"},
        {"field": "start", "code": "past", "message": "Worse"},
    ]


def test_malformed_json_is_a_400_for_the_whole_request(client):
    response = client.generic("POST", "/api/v1/visits/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] is None
    assert response.json()["errors"][0]["code"] == "parse_error"


def test_a_body_that_is_not_an_object(client):
    response = client.post("/api/v1/visits/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] is None


def test_other_media_types_are_415(client, rep):
    customer = CustomerFactory(owner=rep)
    response = client.post(
        "/api/v1/visits/", f"customer={customer.pk}", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "unsupported_media_type"


def test_a_missing_field_is_named(client):
    response = client.post("/api/v1/visits/", {})
    assert response.status_code == 400
    assert {(e["field"], e["code"]) for e in response.json()["errors"]} == {
        ("customer", "required"),
        ("start", "required"),
    }


def test_a_null_character_is_refused_not_a_crash(client):
    response = client.get("/api/v1/customers/?q=a%00b")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "q"


def test_a_page_past_the_end_is_404(client):
    response = client.get("/api/v1/customers/?page=99")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/visits/abc/", "/api/v1/visits", "/api/nothing/", "/api/v1/visits/-1/"])
def test_a_url_that_is_no_endpoint_answers_json(db, path):
    response = APIClient().post(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"][0]["code"] == "not_found"


def test_messages_follow_the_requests_language(client):
    response = client.post("/api/v1/visits/", {}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert response["Content-Language"] == "zh-hans"
