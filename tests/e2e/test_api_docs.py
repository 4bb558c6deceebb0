"""The API docs in a real browser: Swagger UI from local assets under the site's Content Security
Policy, no request leaving the server, and "Try it out" answering with the signed-in user's data."""

import pytest
from playwright.sync_api import expect

from tests.factories import RepProfileFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "pw-for-tests"  # UserFactory's


def test_the_docs_work_offline_and_try_it_out_uses_the_session(open_tab, live_server):
    RepProfileFactory(user__username="docs_rep", user__first_name="Dee", user__last_name="Ocs")
    tab = open_tab("desktop")
    page = tab.page
    requests = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "docs_rep")
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    expect(page.locator(".navbar-text.who")).to_contain_text("Dee Ocs")
    page.goto(live_server.url + "/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Fieldwise API")
    expect(page.locator(".opblock").first).to_be_visible()
    tab.check("api-docs")

    # GET /api/v1/me/: open it, try it out, execute; the session signs the request.
    operation = page.locator("#operations-me-me_retrieve")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    live = operation.locator(".live-responses-table")
    expect(live.locator(".response-col_status").last).to_contain_text("200")
    expect(live).to_contain_text('"username": "docs_rep"')
    tab.check("api-docs-try-it-out")

    outside = [url for url in requests if not url.startswith(live_server.url)]
    assert outside == []
