"""Hostile JSON posted to every write operation of the API: never a 500, and a 400 has the documented body.

schemathesis (test_schemathesis.py) checks conformance to the schema; this test posts what no
schema describes: wrong types, missing and unknown fields, huge strings, NUL and other unicode,
script payloads, nested junk, bodies that are not objects or not JSON at all. Each example runs
in a savepoint rolled back afterwards, so each starts from the same world. A script posted
through the API comes out escaped on the web page that shows it.
"""

import json

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.api.conftest import token_client
from tests.api.world import build_world
from tests.core.test_bad_input import HOSTILE, HUGE, IMG, SCRIPT, TEXT, assert_escaped

UNTHROTTLED = {
    **django_settings.REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": dict.fromkeys(("user", "anon", "token_login"), "1000000/minute"),
}
# Every write operation of the schema: (method, path) -> (who posts, the World object filling {id}).
OPERATIONS = {
    ("post", "/api/v1/auth/token/"): ("anonymous", None),
    ("post", "/api/v1/customers/{id}/reassign/"): ("manager", "customer"),
    ("post", "/api/v1/follow-ups/{id}/done/"): ("rep", "follow_up"),
    ("post", "/api/v1/follow-ups/{id}/reopen/"): ("rep", "follow_up"),
    ("post", "/api/v1/opportunities/"): ("rep", None),
    ("post", "/api/v1/opportunities/{id}/lose/"): ("rep", "opportunity"),
    ("post", "/api/v1/opportunities/{id}/move/"): ("rep", "opportunity"),
    ("post", "/api/v1/opportunities/{id}/probability/"): ("rep", "opportunity"),
    ("post", "/api/v1/opportunities/{id}/win/"): ("rep", "opportunity"),
    ("post", "/api/v1/orders/{id}/fulfil/"): ("rep", "order"),
    ("post", "/api/v1/plan-runs/start/"): ("manager", None),
    ("post", "/api/v1/tokens/"): ("rep", None),
    ("delete", "/api/v1/tokens/{id}/"): ("rep", "token"),
    ("post", "/api/v1/visits/"): ("rep", None),
    ("post", "/api/v1/visits/{id}/cancel/"): ("rep", "visit_future"),
    ("post", "/api/v1/visits/{id}/check-in/"): ("rep", "visit_today"),
    ("post", "/api/v1/visits/{id}/check-out/"): ("rep", "visit_checked_in"),
    ("post", "/api/v1/visits/{id}/confirm/"): ("rep", "visit_future"),
    ("post", "/api/v1/visits/{id}/move/"): ("rep", "visit_future"),
    ("post", "/api/v1/visits/{id}/report/"): ("rep", "visit_checked_in"),
}
WRITES = {"post", "put", "patch", "delete"}


@pytest.fixture
def schema(db):
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_every_write_operation_of_the_schema_is_fuzzed(schema):
    written = {
        (method, path) for path, operations in schema["paths"].items() for method in operations if method in WRITES
    }
    assert written == set(OPERATIONS)


def properties_of(schema, method: str, path: str) -> list[str]:
    """The request body's property names (the operation's own schema, through its $ref)."""
    content = schema["paths"][path][method].get("requestBody", {}).get("content", {})
    names = set()
    for media in content.values():
        ref = media["schema"].get("$ref", "")
        names |= set(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]].get("properties", {})) if ref else set()
    return sorted(names)


SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(HOSTILE),
    TEXT,
    HUGE,
)
JUNK = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8
)
RAW_BODIES = st.sampled_from(
    [
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b"1e309",
        b"NaN",
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b"\xff\xfe\x00",
        b'{"x": "\\ud800"}',
        b"{}" * 1000,
    ]
)


@st.composite
def bodies(draw, names: list[str]):
    """A JSON object over the operation's fields (some dropped, some junk), or a raw body of anything."""
    kind = draw(st.sampled_from(["object", "object", "object", "not an object", "raw"]))
    if kind == "raw":
        return draw(RAW_BODIES)
    if kind == "not an object":
        return json.dumps(draw(JUNK)).encode()
    body = {name: draw(JUNK) for name in names if draw(st.booleans())}
    if names and draw(st.booleans()):
        # Nested rows of the report (needs, follow_ups) get rows of junk.
        body[draw(st.sampled_from(names))] = draw(
            st.lists(
                st.dictionaries(st.sampled_from(["title", "due_date", "description", "satisfied"]), SCALAR), max_size=3
            )
        )
    if draw(st.booleans()):
        body[draw(TEXT)] = draw(JUNK)
    return json.dumps(body).encode()


@pytest.fixture
def world(db):
    return build_world(score=False)


@pytest.fixture
def clients(world):
    """One client per role for all the examples of a test (a user may hold 50 tokens)."""
    return {"rep": token_client(world.rep), "manager": token_client(world.manager), "anonymous": APIClient()}


def url_for(world, path: str, obj: str | None) -> str:
    if obj == "token":
        from api.models import ApiToken

        return path.format(id=ApiToken.objects.filter(user=world.rep).latest("pk").pk)
    return path.format(id=getattr(world, obj).pk) if obj else path


def assert_error_body(response):
    if response.status_code == 400:
        errors = response.json()["errors"]
        assert isinstance(errors, list)
        assert errors
        for error in errors:
            assert set(error) == {"field", "code", "message"}
            assert error["field"] is None or isinstance(error["field"], str)
            assert isinstance(error["code"], str)
            assert isinstance(error["message"], str)


FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.django_db
@pytest.mark.parametrize("operation", sorted(OPERATIONS), ids=lambda op: f"{op[0]} {op[1]}")
@FUZZ
@given(data=st.data())
def test_hostile_json_never_breaks_an_api_write(world, clients, schema, operation, data):
    method, path = operation
    who, obj = OPERATIONS[operation]
    with override_settings(REST_FRAMEWORK=UNTHROTTLED):
        client = clients[who]
        body = data.draw(bodies(properties_of(schema, method, path)), label="body")
        with transaction.atomic():
            response = client.generic(method.upper(), url_for(world, path, obj), body, content_type="application/json")
            transaction.set_rollback(True)
    assert response.status_code < 500
    assert_error_body(response)


@pytest.mark.django_db
def test_a_report_with_a_script_filed_through_the_api_is_escaped_on_the_visit_page(world):
    payload = f"Hi {SCRIPT} {IMG}"
    visit = world.visit_checked_in
    response = token_client(world.rep).post(
        f"/api/v1/visits/{visit.pk}/report/",
        {
            "outcome": "follow_up",
            "notes": payload,
            "actual_satisfaction": 4,
            "expected_satisfaction": 3,
            "next_step": payload,
            "needs": [{"description": payload, "satisfied": False}],
            "follow_ups": [{"title": payload, "due_date": "2099-01-01"}],
        },
        format="json",
    )
    assert response.status_code in (200, 201), response.content
    visit.refresh_from_db()
    assert visit.report == payload
    assert visit.next_step == payload

    web = Client()
    web.force_login(world.rep)
    page = web.get(f"/visits/{visit.pk}/")
    assert_escaped(page, where="visit page")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.content.decode()
    assert_escaped(web.get("/followups/"), where="follow-ups")


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_answers_the_json_error_body(world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"outcome": "successful", "notes": "a" * 2000}).encode()
    response = token_client(world.rep).generic(
        "POST", f"/api/v1/visits/{world.visit_checked_in.pk}/report/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"field": None, "code": "too_large", "message": "The request body is too large."}]
    }
