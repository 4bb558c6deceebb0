"""Login throttling hooks for django-axes: which address a login comes from and what a lockout answers.

The lockout is a 429 in both forms a login arrives in: the login page renders
registration/lockout.html; the API's token login (/api/...) answers the API's JSON error body.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from rest_framework.throttling import BaseThrottle

LOCKOUT_STATUS = 429


def client_address(request: HttpRequest) -> str:
    """The address the API's rate limits count: REMOTE_ADDR, or its X-Forwarded-For entry behind API_NUM_PROXIES.

    One definition for both, so behind the TLS proxy a client is not everyone at the proxy's address.
    """
    return BaseThrottle().get_ident(request)


def lockout_message() -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return ngettext(
        "Too many failed log-in attempts: logging in with this user name from your address is blocked "
        "for %(minutes)d minute. Try again after that, or ask an administrator to unlock it.",
        "Too many failed log-in attempts: logging in with this user name from your address is blocked "
        "for %(minutes)d minutes. Try again after that, or ask an administrator to unlock it.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the page or the API error that tells a locked-out user how long to wait."""
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    message = lockout_message()
    match = request.resolver_match
    if match is not None and match.namespaces[:1] == ["api"]:
        body = {"errors": [{"field": None, "code": "locked_out", "message": message}]}
        return JsonResponse(body, status=LOCKOUT_STATUS, headers={"Retry-After": retry_after})
    response = render(request, "registration/lockout.html", {"message": message}, status=LOCKOUT_STATUS)
    response["Retry-After"] = retry_after
    return response
