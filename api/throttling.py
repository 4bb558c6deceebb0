"""Rate limits of the API, kept in the default cache (Redis when REDIS_URL is set, so every
worker process shares one count).

The rate is read on every request rather than once at import, so a change of
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (a deployment's env, a test's override) takes effect.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings


class _RateFromSettings:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class UserThrottle(_RateFromSettings, throttling.UserRateThrottle):
    """Per signed-in user (token or session), whatever the endpoint; anonymous requests per IP address."""


class AnonThrottle(_RateFromSettings, throttling.AnonRateThrottle):
    """Unauthenticated requests (a wrong token, the schema, the docs), per IP address."""


class TokenLoginThrottle(_RateFromSettings, throttling.SimpleRateThrottle):
    """Password attempts on the token endpoint, per IP address: a brake on password guessing."""

    scope = "token_login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
