"""Login throttling (django-axes): 5 failures for one user name from one address lock that pair out for 15 minutes.

Axes is off in the test settings (the test client's login() has no request for it); these
tests switch it on and log in through the real login view and the API's token login.
"""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

PASSWORD = "pw-for-tests"  # UserFactory's
LIMIT = 5

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("axes_on")]


@pytest.fixture
def axes_on():
    with override_settings(AXES_ENABLED=True):
        yield


def log_in(client, username, password, address="127.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, username, times, address="127.0.0.1"):
    return [log_in(client, username, "wrong-password", address).status_code for _ in range(times)]


def test_the_fifth_failure_locks_out_with_a_clear_message(client, rep):
    assert fail(client, rep.username, LIMIT - 1) == [200] * (LIMIT - 1)  # the form again, with its error

    response = log_in(client, rep.username, "wrong-password")

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert "registration/lockout.html" in [t.name for t in response.templates]
    assert "Too many failed log-in attempts" in response.text
    assert "blocked for 15 minutes" in response.text
    assert AccessAttempt.objects.get(username=rep.username).failures_since_start == LIMIT


def test_a_locked_out_user_is_refused_even_with_the_right_password(client, rep):
    fail(client, rep.username, LIMIT)

    response = log_in(client, rep.username, PASSWORD)

    assert response.status_code == 429
    assert client.get(reverse("home")).status_code == 302  # still anonymous


def test_the_lockout_is_per_user_name_and_address(client, rep, teammate):
    fail(client, rep.username, LIMIT)

    assert log_in(client, teammate.username, PASSWORD).status_code == 302  # another user, same address
    client.post(reverse("logout"))
    assert log_in(client, rep.username, PASSWORD, address="192.0.2.9").status_code == 302  # same user elsewhere


def test_the_lockout_ends_after_fifteen_minutes(client, rep):
    fail(client, rep.username, LIMIT)
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))

    assert log_in(client, rep.username, PASSWORD).status_code == 302


def test_a_success_resets_the_count(client, rep):
    fail(client, rep.username, LIMIT - 1)
    assert log_in(client, rep.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))

    assert fail(client, rep.username, LIMIT - 1) == [200] * (LIMIT - 1)
    assert log_in(client, rep.username, PASSWORD).status_code == 302


def test_the_admin_login_counts_too(client, admin_user):
    url = reverse("admin:login")
    codes = [
        client.post(url, {"username": admin_user.username, "password": "wrong-password"}).status_code
        for _ in range(LIMIT)
    ]
    assert codes == [200] * (LIMIT - 1) + [429]


def test_the_api_token_login_answers_the_lockout_in_the_api_error_shape(client, rep):
    # Six requests: under the endpoint's own rate limit (API_RATE_TOKEN_LOGIN, 10 a minute).
    url = reverse("api:v1:token-login")
    body = {"username": rep.username, "password": "wrong-password", "name": "script"}
    codes = [client.post(url, body, content_type="application/json").status_code for _ in range(LIMIT)]
    assert codes == [400] * (LIMIT - 1) + [429]

    response = client.post(url, {**body, "password": PASSWORD}, content_type="application/json")

    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    assert response.json() == {
        "errors": [
            {
                "field": None,
                "code": "locked_out",
                "message": "Too many failed log-in attempts: logging in with this user name from your address "
                "is blocked for 15 minutes. Try again after that, or ask an administrator to unlock it.",
            }
        ]
    }


def test_behind_the_tls_proxy_the_forwarded_address_counts(client, rep, settings):
    # One trusted proxy (API_NUM_PROXIES=1): its X-Forwarded-For entry is the client, not the proxy's address.
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}):
        for _ in range(LIMIT):
            client.post(
                reverse("login"),
                {"username": rep.username, "password": "wrong-password"},
                REMOTE_ADDR="10.0.0.2",
                HTTP_X_FORWARDED_FOR="203.0.113.5",
            )
        assert AccessAttempt.objects.get().ip_address == "203.0.113.5"
        response = client.post(
            reverse("login"),
            {"username": rep.username, "password": PASSWORD},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.7",  # another client behind the same proxy
        )
    assert response.status_code == 302
