"""OpenAPI details drf-spectacular cannot infer: the bearer token scheme and the error answers.

Every operation lists the error statuses it can answer with, each with the one error
body of `api.errors`, so a client (and the schemathesis run in the test suite) can rely
on the schema for failures too.
"""

import re

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from api.errors import ErrorSerializer

ERROR_DESCRIPTIONS = {
    "400": _("Invalid input: each error names the field at fault."),
    "401": _("No credentials, or an invalid or revoked token."),
    "403": _("Not allowed for your role, or a session request without its CSRF token."),
    "404": _("No such object within your scope (another user's object answers the same), or no such page."),
    "409": _("Conflicts with the current state."),
    "415": _("Send the body as application/json."),
    "429": _("Too many requests: retry after the number of seconds in the Retry-After header."),
}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": str(
                _("An API token (`fw_...`) from POST /api/v1/auth/token/ or /api/v1/tokens/, sent as `Bearer <token>`.")
            ),
        }


class ApiAutoSchema(AutoSchema):
    """AutoSchema that adds the error answers every operation can give."""

    # Extra statuses of an operation beyond the generic ones: {"409": ...} via `extra_error_codes` on the view.

    def _error_codes(self) -> list[str]:
        codes = {"429"}
        public = any(isinstance(permission, AllowAny) for permission in self.view.get_permissions())
        if not public:
            codes |= {"401", "403"}
        if self.method in ("POST", "PUT", "PATCH"):
            codes.add("400")  # a service's refusal even without a body (e.g. confirming a completed visit)
            if self.get_request_serializer() is not None:
                codes.add("415")
        if re.search(r"{\w+}", self.path):
            codes.add("404")
        if self._is_list_view() and self.method == "GET":
            codes |= {"400", "404"}  # a filter's invalid value; a page past the end
        if self.get_override_parameters():
            codes.add("400")  # a query parameter's invalid value
        codes |= set(getattr(self.view, "extra_error_codes", {}).get(self.method.lower(), ()))
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in self._error_codes():
            if code not in responses:
                response = self._get_response_for_code(ErrorSerializer, code, direction=direction)
                response["description"] = str(ERROR_DESCRIPTIONS[code])
                responses[code] = response
        return responses
