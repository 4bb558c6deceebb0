"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in the test thread, which makes Django refuse
ORM calls from it unless DJANGO_ALLOW_ASYNC_UNSAFE is set (the known pytest-django +
Playwright combination); the ORM calls here are the test's own set-up and checks.
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# A 1x1 transparent GIF: Leaflet "loads" it for every tile, so the map works offline and
# no tile request can fail (nothing needs to be filtered out of the console).
BLANK_TILE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from django.db import connections

    # Django keeps connections in an asgiref Local (context variables); once Playwright's
    # sync API is started the test thread can see a fresh, empty set, losing e.g. the
    # snapshot serialized_rollback restores from. Hand the same connections back.
    before = {alias: connections[alias] for alias in connections}
    playwright = sync_playwright().start()
    for alias, connection in before.items():
        connections[alias] = connection
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    )
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(autouse=True)
def offline_tiles(settings):
    settings.FIELDWISE_TILE_URL = BLANK_TILE


class Tab:
    """A page plus every console error and uncaught exception it produced, and its screenshots."""

    def __init__(self, page, viewport: str):
        self.page = page
        self.viewport = viewport
        self.errors: list[str] = []
        self.shots: list[Path] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def check(self, step: str) -> None:
        """Screenshot the page as it is now and assert no JavaScript error so far."""
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{self.viewport}-{step}.png"
        self.page.screenshot(path=path, full_page=True)
        self.shots.append(path)
        assert self.errors == [], f"JavaScript errors by step {step!r}: {self.errors}"


@pytest.fixture
def open_tab(browser):
    """open_tab(viewport, geolocation=None) -> Tab in a fresh context (own cookies and storage)."""
    contexts = []

    def opener(viewport: str, *, geolocation: dict | None = None) -> Tab:
        # Reduced motion turns off Bootstrap's fades, so a dialog is fully shown (and screenshotted) at once.
        options = {**VIEWPORTS[viewport], "reduced_motion": "reduce"}
        if geolocation is not None:
            options.update(geolocation=geolocation, permissions=["geolocation"])
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return Tab(context.new_page(), viewport)

    yield opener
    for context in contexts:
        context.close()
