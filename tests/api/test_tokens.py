"""API tokens: created with a password or a session (never by another token), listed and revoked by
their owner only, stored as a SHA-256 digest, refused once revoked or when the user is inactive."""

import hashlib

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import api_token_create
from tests.api.conftest import token_client
from tests.factories import UserFactory

PASSWORD = "pw-for-tests"  # UserFactory's
LOGIN = "/api/v1/auth/token/"


def errors(response) -> dict:
    found: dict = {}
    for error in response.json()["errors"]:
        found.setdefault(error["field"], []).append(error["message"])
    return found


def test_a_password_buys_a_named_token_shown_once_and_stored_hashed(rep):
    response = APIClient().post(LOGIN, {"username": "rep_north", "password": PASSWORD, "name": "ERP sync"})
    assert response.status_code == 201
    body = response.json()
    secret = body["token"]
    assert secret.startswith("fw_")
    assert len(secret) == 54
    row = ApiToken.objects.get(pk=body["id"])
    assert (row.user, row.name, row.prefix) == (rep, "ERP sync", secret[:11])
    assert row.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {row.prefix, row.digest}
    # It works, and the list never shows the secret again.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert [(t["name"], t["prefix"]) for t in listed] == [("ERP sync", secret[:11])]
    assert "token" not in listed[0]
    assert client.get("/api/v1/me/").json()["username"] == "rep_north"
    assert ApiToken.objects.get(pk=body["id"]).last_used_at is not None


def test_a_wrong_password_names_the_field(rep):
    response = APIClient().post(LOGIN, {"username": "rep_north", "password": "wrong", "name": "x"})
    assert response.status_code == 400
    assert errors(response) == {"password": ["The user name or password is wrong (or the account is inactive)."]}
    missing = APIClient().post(LOGIN, {"username": "rep_north"})
    assert set(errors(missing)) == {"password", "name"}
    assert not ApiToken.objects.exists()


def test_a_signed_in_user_creates_a_token_but_a_token_cannot(rep):
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(rep)
    # A session request without its CSRF token is refused like any other form.
    assert session.post("/api/v1/tokens/", {"name": "laptop"}).status_code == 403
    session = APIClient()
    session.force_login(rep)
    created = session.post("/api/v1/tokens/", {"name": "laptop"})
    assert created.status_code == 201
    assert created.json()["token"].startswith("fw_")
    duplicate = session.post("/api/v1/tokens/", {"name": "laptop"})
    assert errors(duplicate) == {"name": ["You already have an active token with this name."]}
    by_token = token_client(rep).post("/api/v1/tokens/", {"name": "another"})
    assert by_token.status_code == 403
    assert not ApiToken.objects.filter(name="another").exists()


def test_revoking_stops_the_token_at_once(rep):
    issued = api_token_create(user=rep, name="phone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert client.get("/api/v1/me/").status_code == 200
    assert client.delete(f"/api/v1/tokens/{issued.token.pk}/").status_code == 204
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="api"'
    assert errors(refused) == {None: ["The token is invalid or revoked."]}
    row = ApiToken.objects.get(pk=issued.token.pk)
    assert row.revoked_at is not None
    # The name is free again for a new token.
    assert api_token_create(user=rep, name="phone").token.pk != row.pk


def test_nobody_sees_or_revokes_another_users_token(rep, teammate, admin_user):
    theirs = api_token_create(user=teammate, name="theirs").token
    for user in (rep, admin_user):
        client = token_client(user)
        assert client.get(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
        assert client.delete(f"/api/v1/tokens/{theirs.pk}/").status_code == 404
        assert theirs.pk not in {t["id"] for t in client.get("/api/v1/tokens/").json()["results"]}
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fw_0000000000000000000000000000000000000000000000000000",
        "Bearer nonsense",
        "Bearer",
        "Bearer a b",
    ],
)
def test_a_bad_token_is_401_never_anonymous(rep, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/me/").status_code == 401


def test_an_inactive_users_token_stops_working(rep):
    issued = api_token_create(user=rep, name="phone")
    rep.is_active = False
    rep.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    assert client.get("/api/v1/me/").status_code == 401
    assert APIClient().post(LOGIN, {"username": "rep_north", "password": PASSWORD, "name": "x"}).status_code == 400


def test_without_credentials_every_endpoint_is_401(db):
    client = APIClient()
    for url in ("/api/v1/me/", "/api/v1/customers/", "/api/v1/visits/1/", "/api/v1/tokens/", "/api/v1/kpis/"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response.json()["errors"][0]["code"] == "not_authenticated"


def test_me_names_the_role(rep, manager):
    assert token_client(rep).get("/api/v1/me/").json()["role"] == "Rep"
    assert token_client(manager).get(reverse("api:v1:me")).json()["role"] == "Manager"
    nobody = UserFactory(username="nobody")
    assert token_client(nobody).get("/api/v1/me/").json()["role"] is None
