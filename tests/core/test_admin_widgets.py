"""Admin forms with autocomplete fields refuse hostile ids with a message, never a 500."""

import pytest
from django.contrib import admin
from django.urls import reverse

from core.admin_widgets import SafeAutocompleteMixin

HOSTILE_IDS = ["abc", "1.5", str(2**70), "-" + str(2**64), "<script>"]


def admins_with_autocomplete():
    return [
        model_admin
        for model_admin in admin.site._registry.values()
        if model_admin.autocomplete_fields
        or any(getattr(inline, "autocomplete_fields", ()) for inline in model_admin.inlines)
    ]


def test_every_admin_with_autocomplete_fields_uses_the_safe_widgets():
    found = admins_with_autocomplete()
    assert len(found) >= 8
    for model_admin in found:
        if model_admin.autocomplete_fields:
            assert isinstance(model_admin, SafeAutocompleteMixin), type(model_admin).__name__
        for inline in model_admin.inlines:
            if getattr(inline, "autocomplete_fields", ()):
                assert issubclass(inline, SafeAutocompleteMixin), inline.__name__


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_a_hostile_id_in_an_autocomplete_field_is_a_form_error(client, admin_user, bad):
    client.force_login(admin_user)
    for model_admin in admins_with_autocomplete():
        if not model_admin.autocomplete_fields:
            continue
        meta = model_admin.model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_add")
        response = client.post(url, dict.fromkeys(model_admin.autocomplete_fields, bad))
        if response.status_code == 403:  # read-only models: no add view
            continue
        assert response.status_code == 200, (url, response.status_code)
        assert response.context["adminform"].form.errors, url
