"""Every URL pattern, requested by an anonymous visitor with GET and POST, gives nothing away.

The walk covers config.urls recursively (includes, namespaces, the admin, the API), fills
each path converter with a plausible value and a regex pattern with the simplest string it
matches, and checks the URL really reaches that pattern's view. Allowed answers: a redirect
to a log-in page, or 401, 403, 404, 405. Nothing else: no 200, no 500.

A pattern that must be reachable without a login is listed in PUBLIC with the reason;
the list is checked against the URL patterns so it cannot go stale.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from hypothesis import find
from hypothesis import strategies as st

# Which patterns answer an anonymous visitor, and why that is safe. Each still must not fail (no 5xx).
PUBLIC = {
    "login": "the log-in page itself",
    "set_language": "the language switcher, on the log-in page too: stores the choice in a cookie, reads no data",
    "admin:login": "the admin's log-in form, throttled by django-axes like the main one",
    "api:v1:token-login": "trades a user name and password for a token (a log-in); throttled, no data without them",
    # Published by api/ on purpose: the schema is the API's contract for integrators and schemathesis;
    # it describes endpoints, holds no data, and every endpoint it lists answers 401 without a token.
    "api:schema": "the OpenAPI description of the API (no data)",
    "api:docs": "the Swagger UI page that renders the schema (no data)",
}
# Not in PUBLIC though reachable without a session: the calendar feed (visits:feed) takes its token
# as the credential, so a wrong token must answer 404, which the walk checks like any other URL.
# Logout needs a session too (LoginRequiredMiddleware): anonymous, it redirects to the log-in page.

LOGIN_PAGES = ("/login/?next=", "/admin/login/?next=")
ALLOWED_STATUS = {401, 403, 404, 405}
CONVERTER_SAMPLES = {
    IntConverter: "1",
    StringConverter: "x",
    SlugConverter: "x",
    PathConverter: "x",
    UUIDConverter: "6f1c9d2e-3a7b-4c5d-8e9f-0a1b2c3d4e5f",
}
ROUTE_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")


def chains(patterns, prefix=()):
    """Every URLPattern with the resolvers leading to it."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from chains(pattern.url_patterns, (*prefix, pattern))
        else:
            yield (*prefix, pattern)


def view_name(chain) -> str | None:
    namespaces = [r.namespace for r in chain[:-1] if isinstance(r, URLResolver) and r.namespace]
    name = chain[-1].name
    return ":".join([*namespaces, name]) if name else None


def route_sample(pattern: RoutePattern) -> str:
    def value(match: re.Match) -> str:
        converter = type(pattern.converters[match["name"]])
        assert converter in CONVERTER_SAMPLES, f"{pattern}: add a sample value for {converter.__name__}"
        return CONVERTER_SAMPLES[converter]

    return ROUTE_PARAMETER.sub(value, str(pattern))


def reaches(url: str, endpoint: URLPattern) -> bool:
    try:
        match = resolve(url)
    except Resolver404:
        return False
    return match.func is endpoint.callback and match.url_name == endpoint.name


def sample_url(chain) -> str:
    """A URL that resolves to the chain's view: converters filled, a regex given its simplest match."""
    parts = [route_sample(p.pattern) if isinstance(p.pattern, RoutePattern) else None for p in chain]
    regexes = [i for i, part in enumerate(parts) if part is None]
    assert len(regexes) <= 1, f"{chain}: more than one regex level; extend sample_url"
    if not regexes:
        url = "/" + "".join(parts)
        assert reaches(url, chain[-1]), f"{url} does not reach {view_name(chain)}: pick other sample values"
        return url
    i = regexes[0]
    pattern: RegexPattern = chain[i].pattern
    regex = pattern.regex.pattern.removeprefix("^")

    def url_with(text: str) -> str:
        return "/" + "".join([*parts[:i], text, *parts[i + 1 :]])

    # The simplest string the regex matches that reaches this view (a catch-all's "" is an earlier pattern's).
    text = find(st.from_regex(regex, fullmatch=True), lambda s: reaches(url_with(s), chain[-1]))
    return url_with(text)


ALL = list(chains(get_resolver().url_patterns))
NAMES = {view_name(chain) for chain in ALL}


def chain_id(chain) -> str:
    return view_name(chain) or "".join(str(p.pattern) for p in chain)


def test_every_public_entry_names_a_url_pattern():
    assert set(PUBLIC) <= NAMES


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("chain", ALL, ids=chain_id)
def test_anonymous_visitors_are_sent_to_log_in_or_refused(client, chain, method):
    url = sample_url(chain)
    response = getattr(client, method)(url)  # a 5xx raises here: the client re-raises view exceptions

    if view_name(chain) in PUBLIC:
        assert response.status_code < 500
        return
    if response.status_code in {301, 302, 303, 307, 308}:
        assert response["Location"].startswith(LOGIN_PAGES), f"{method.upper()} {url} -> {response['Location']}"
    else:
        assert response.status_code in ALLOWED_STATUS, f"{method.upper()} {url} answered {response.status_code}"
