"""`Authorization: Bearer fw_...` authentication for the API (session cookies work too)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from api.tokens import api_token_authenticate

KEYWORD = "Bearer"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """A request carrying a token must carry a live one: a wrong token is 401, never anonymous."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the header as `Authorization: Bearer <token>`."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("The token is invalid or revoked.")) from None
        token = api_token_authenticate(raw=raw)
        if token is None:
            raise exceptions.AuthenticationFailed(_("The token is invalid or revoked."))
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes unauthenticated requests 401 with a challenge instead of 403.
        return f'{KEYWORD} realm="api"'
