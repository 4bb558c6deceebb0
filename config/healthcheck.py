"""Health check of the web container: `python -m config.healthcheck [URL]`, exit 0 when the login page answers 200.

The probe comes from inside the container, where a plain request to gunicorn would be
refused by Django in production (its Host is not in ALLOWED_HOSTS) or redirected to https
(SECURE_SSL_REDIRECT); so it sends what the TLS proxy sends: an allowed host name and
X-Forwarded-Proto: https. No Django import: it runs every few seconds.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/login/"


def allowed_host() -> str:
    """The first ALLOWED_HOSTS entry as a host name ('.example.com' -> 'example.com'; '*' -> 'localhost')."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")
        if entry and entry != "*":
            return entry
    return "localhost"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to report, not to follow


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    request = urllib.request.Request(url, headers={"Host": allowed_host(), "X-Forwarded-Proto": "https"})  # noqa: S310
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=5) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        print(f"unhealthy: {url}: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {url} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
