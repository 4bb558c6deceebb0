"""The production web process as the Dockerfile runs it: collectstatic, then gunicorn with production settings.

Checks what only the real stack shows: whitenoise serving the collected, hashed and
compressed static files; the security headers and cookie flags on the wire; and the
container's health check getting past the host and https checks that turn a naive probe away.
"""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from config.healthcheck import NoRedirect
from config.healthcheck import main as healthcheck

pytestmark = pytest.mark.slow
HOST = "crm.example.com"
PROXIED = {"Host": HOST, "X-Forwarded-Proto": "https"}  # what the TLS proxy sends


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    root = tmp_path_factory.mktemp("deploy")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "SECRET_KEY": "x7#kq9!vR2mZp4@Lw8$Nc3^Hd6&Tj1*Yb5(Gf0)Us-Qe=Ao+Ii_Ky",
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"sqlite:///{root / 'db.sqlite3'}",
        "STATIC_ROOT": str(root / "static"),
    }
    collect = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert collect.returncode == 0, collect.stderr
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def fetch(url: str, headers: dict | None = None):
    """(status, headers, body) without following redirects."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_a_naive_probe_is_turned_away_and_the_health_check_is_not(gunicorn, monkeypatch):
    assert fetch(gunicorn + "/login/")[0] == 400  # Host 127.0.0.1 is not in ALLOWED_HOSTS
    status, headers, _ = fetch(gunicorn + "/login/", {"Host": HOST})
    assert (status, headers["Location"]) == (301, f"https://{HOST}/login/")  # plain http goes to https

    monkeypatch.setenv("ALLOWED_HOSTS", HOST)
    assert healthcheck(["healthcheck", gunicorn + "/login/"]) == 0
    assert healthcheck(["healthcheck", gunicorn + "/customers/"]) == 1  # a redirect to log in is no health


def test_the_login_page_carries_the_security_headers_and_cookie_flags(gunicorn):
    status, headers, _ = fetch(gunicorn + "/login/", PROXIED)
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    cookie = headers["Set-Cookie"]
    assert cookie.startswith("csrftoken=")
    assert {"HttpOnly", "Secure", "SameSite=Lax"} <= {part.strip() for part in cookie.split(";")}


def test_pages_need_a_login(gunicorn):
    status, headers, _ = fetch(gunicorn + "/dashboard/", PROXIED)
    assert (status, headers["Location"]) == (302, "/login/?next=/dashboard/")


def test_whitenoise_serves_the_hashed_compressed_static_files(gunicorn):
    _, _, body = fetch(gunicorn + "/login/", PROXIED)
    css = re.search(r'href="(/static/core/site\.[0-9a-f]{12}\.css)"', body.decode()).group(1)

    status, headers, content = fetch(gunicorn + css, {**PROXIED, "Accept-Encoding": "gzip"})

    assert status == 200
    assert headers["Content-Type"].startswith("text/css")
    assert headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"]  # hashed name: cached for good
    assert content[:2] == b"\x1f\x8b"  # gzip magic
