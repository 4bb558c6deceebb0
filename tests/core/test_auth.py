"""Login and logout pages; everything else needs a logged-in user."""

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_login_page_is_public(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert b"Log in to Fieldwise" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/admin/"])
def test_pages_redirect_anonymous_users_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_login_then_home_shows_scoped_counts(client, rep, other_rep):
    from tests.factories import CustomerFactory

    CustomerFactory.create_batch(3, owner=rep)
    CustomerFactory.create_batch(5, owner=other_rep)
    response = client.post(reverse("login"), {"username": rep.username, "password": "pw-for-tests"})
    assert response.status_code == 302
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert home.context["customer_count"] == 3


def test_logout_is_a_post_and_ends_the_session(client, rep):
    client.force_login(rep)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
