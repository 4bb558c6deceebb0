"""Security headers, the Content Security Policy, cookie flags and password rules on real responses."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.urls import reverse

from config.settings.base import tile_image_sources
from tests.factories import UserFactory


def policy(response) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives = [part.split() for part in response["Content-Security-Policy"].split(";") if part.strip()]
    return {name: sources for name, *sources in directives}


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy(client, rep, settings):
    client.force_login(rep)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert policy(response) == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # data: for Bootstrap's icons; then the map tile server of FIELDWISE_TILE_URL (OpenStreetMap's by default).
        "img-src": ["'self'", "data:", *tile_image_sources(settings.FIELDWISE_TILE_URL)],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }


@pytest.mark.parametrize(
    ("url", "sources"),
    [
        ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", ["https://tile.openstreetmap.org"]),
        ("https://{s}.tile.example.org:8443/{z}/{x}/{y}.png", ["https://*.tile.example.org:8443"]),
        ("http://tiles.local/{z}/{x}/{y}.png", ["http://tiles.local"]),
        ("data:image/gif;base64,R0lGODlhAQABAAAAACw=", []),  # data: is in img-src already
    ],
)
def test_the_tile_server_origin_goes_into_img_src(url, sources):
    assert tile_image_sources(url) == sources


def test_a_placeholder_inside_the_host_is_refused_with_the_setting_named():
    with pytest.raises(ImproperlyConfigured, match="MAP_TILE_URL"):
        tile_image_sources("https://tiles.{s}.example.org/{z}/{x}/{y}.png")


@pytest.mark.django_db
def test_security_headers_on_the_login_page(client):
    response = client.get(reverse("login"))
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    csrf = response.cookies["csrftoken"]
    assert csrf["httponly"] is True  # no script reads it: forms post the token, board.js a data attribute
    assert csrf["secure"] is True
    assert csrf["samesite"] == "Lax"


@pytest.mark.django_db
def test_the_session_cookie_is_secure_and_http_only(client, rep):
    response = client.post(reverse("login"), {"username": rep.username, "password": "pw-for-tests"})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] is True
    assert session["secure"] is True


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tq8#vLm2", "too short"),  # 8 characters: under the 10 required
        ("password123", "too common"),
        ("8302957461029", "entirely numeric"),
        ("jordan.rivera", "too similar"),  # the user's own name
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password, reason):
    user = UserFactory.build(username="jordan.rivera", first_name="Jordan", last_name="Rivera")
    with pytest.raises(ValidationError) as refused:
        validate_password(password, user)
    assert any(reason in message for message in refused.value.messages), refused.value.messages


@pytest.mark.django_db
def test_a_long_uncommon_password_is_accepted():
    user = UserFactory.build(username="jordan.rivera")
    validate_password("quartz-lantern-harbor-7", user)  # no exception
