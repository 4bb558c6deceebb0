"""Fixtures of the API tests: clients authenticated by token, and a clean rate-limit count per test."""

import itertools

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api.tokens import api_token_create


def _forget_throttle_history() -> None:
    # The counts live in the default cache, Redis in CI and shared by the whole run: drop only
    # the throttles' keys (the same database holds the Celery broker's).
    client = getattr(cache, "_cache", None)
    if client is not None and hasattr(client, "get_client"):
        redis = client.get_client(write=True)
        for key in redis.scan_iter(match="*throttle_*"):
            redis.delete(key)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def fresh_throttles():
    _forget_throttle_history()
    yield
    _forget_throttle_history()


_names = itertools.count(1)


def token_client(user, name: str | None = None) -> APIClient:
    """An API client sending a new token of `user`, as an integration would."""
    issued = api_token_create(user=user, name=name or f"tests {next(_names)}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    return client


@pytest.fixture
def api(db):
    """api(user) -> a client authenticated with a fresh token of `user`."""
    return token_client


_SCHEMATHESIS_RESULTS = pytest.StashKey[list]()


@pytest.fixture
def schemathesis_results(request) -> list:
    """Lines about the schemathesis runs, printed at the end of the session (how many cases ran)."""
    return request.config.stash.setdefault(_SCHEMATHESIS_RESULTS, [])


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = config.stash.get(_SCHEMATHESIS_RESULTS, [])
    if lines:
        terminalreporter.section("schemathesis")
        for line in lines:
            terminalreporter.write_line(line)
