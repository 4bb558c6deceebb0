"""The OpenAPI schema at /api/schema/ and the docs at /api/docs/: complete, valid, and served offline."""

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from tests.factories import UserFactory

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    return yaml.safe_load(response.content)


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_the_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_every_resource_of_the_issue_is_in_the_schema(schema):
    paths = set(schema["paths"])
    for path in (
        "/api/v1/customers/",
        "/api/v1/contacts/",
        "/api/v1/visits/",
        "/api/v1/visits/{id}/check-in/",
        "/api/v1/visits/{id}/check-out/",
        "/api/v1/visits/{id}/report/",
        "/api/v1/follow-ups/",
        "/api/v1/opportunities/",
        "/api/v1/opportunities/{id}/move/",
        "/api/v1/orders/",
        "/api/v1/scores/",
        "/api/v1/plan-runs/",
        "/api/v1/plan-runs/start/",
        "/api/v1/kpis/",
        "/api/v1/tokens/",
        "/api/v1/tokens/{id}/",
        "/api/v1/auth/token/",
    ):
        assert path in paths, path
    # Scores are read-only.
    assert set(schema["paths"]["/api/v1/scores/{customer}/"]) == {"get"}


def test_every_operation_documents_its_errors_with_the_error_body(schema):
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        assert "429" in responses, f"{method} {path}"
        if path != "/api/v1/auth/token/":
            assert {"401", "403"} <= set(responses), f"{method} {path}"
        if "{" in path:
            assert "404" in responses, f"{method} {path}"
        if method == "POST" or any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in responses, f"{method} {path}"
        for code, response in responses.items():
            if code.startswith("4"):
                assert response["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, f"{method} {path} {code}"


def test_every_parameter_is_described_with_a_type(schema):
    for method, path, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            assert "type" in parameter["schema"] or "$ref" in parameter["schema"], (method, path, parameter)


def test_both_authentications_are_declared(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["tokenAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"


def test_the_docs_page_loads_only_local_assets_and_no_inline_script(db):
    user = UserFactory(username="reader", role="Rep")
    client = APIClient()
    client.force_login(user)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(source.startswith("/") for source in sources), sources  # nothing from a CDN
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in sources
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "inline script"
    assert "<style" not in html
    assert "style=" not in html
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert '"/api/schema/"' in script.content.decode()
    assert "http://" not in script.content.decode()
    assert "https://" not in script.content.decode()


def test_the_swagger_assets_are_served_from_static():
    for name in ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "LICENSE"):
        assert finders.find(f"drf_spectacular_sidecar/swagger-ui-dist/{name}"), name
    assert finders.find("api/swagger.css")
