"""API tokens in the admin: listed without their digest, read-only, revoked by an action."""

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from api.models import ApiToken
from api.tokens import api_token_create


def test_an_admin_revokes_a_leaked_token(client, admin_user, rep):
    issued = api_token_create(user=rep, name="leaked")
    client.force_login(admin_user)
    page = client.get(reverse("admin:api_apitoken_change", args=[issued.token.pk]))
    assert page.status_code == 200
    assert issued.token.digest not in page.text
    assert issued.secret not in page.text
    response = client.post(
        reverse("admin:api_apitoken_changelist"), {"action": "revoke", ACTION_CHECKBOX_NAME: [issued.token.pk]}
    )
    assert response.status_code == 302
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None
