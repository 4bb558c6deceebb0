"""Rate limits: per user for signed-in requests, per address otherwise, and a tighter one on password logins."""

from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from tests.api.conftest import token_client


def rates(**rates) -> dict:
    return {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def test_a_user_is_throttled_after_the_rate_with_retry_after(rep, teammate):
    with override_settings(REST_FRAMEWORK=rates(user="3/minute")):
        client = token_client(rep)
        assert [client.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
        refused = client.get("/api/v1/customers/")
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 60
        error = refused.json()["errors"][0]
        assert (error["field"], error["code"]) == (None, "throttled")
        # Counted per user: another user, even from the same address, is not slowed down.
        assert token_client(teammate).get("/api/v1/me/").status_code == 200
        # A second token of the same user shares the user's count.
        assert token_client(rep).get("/api/v1/me/").status_code == 429


def test_anonymous_requests_are_counted_per_address(db):
    """On what answers without credentials (the schema, the docs, a wrong URL); elsewhere it is a 401 first."""
    with override_settings(REST_FRAMEWORK=rates(anon="2/minute")):
        client = APIClient()
        assert [client.get("/api/v1/no-such-thing/").status_code for _ in range(2)] == [404, 404]
        assert client.get("/api/schema/").status_code == 429
        assert client.get("/api/schema/", REMOTE_ADDR="10.0.0.9").status_code == 200


def test_password_logins_have_their_own_tight_limit(rep):
    with override_settings(REST_FRAMEWORK=rates(token_login="2/minute")):
        client = APIClient()
        for _ in range(2):
            response = client.post("/api/v1/auth/token/", {"username": "nobody", "password": "x", "name": "t"})
            assert response.status_code == 400
        refused = client.post("/api/v1/auth/token/", {"username": "rep_north", "password": "pw-for-tests", "name": "t"})
        assert refused.status_code == 429
