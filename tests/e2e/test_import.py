"""A manager imports customers in a real browser: a file with a bad row is refused row by row,
the corrected file is previewed, confirmed, and the customers are on the list. No step may log a
JavaScript error (the Content Security Policy included)."""

import pytest
from playwright.sync_api import expect

from crm.models import Customer
from tests.factories import RepProfileFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "pw-for-tests"  # UserFactory's
BAD = b"code,name,owner,annual_value\nN-1,Atelier Nord,import_rep,1200\nN-2,Cafe Est,import_rep,12;5\n"
GOOD = b"code,name,owner,annual_value\nN-1,Atelier Nord,import_rep,1200\nN-2,Cafe Est,import_rep,125\n"


@pytest.fixture
def manager():
    profile = RepProfileFactory(user__username="import_rep")
    manager = UserFactory(username="import_manager", first_name="Morgan", last_name="Lead", role="Manager")
    profile.team.managers.add(manager)
    return manager


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_manager_previews_then_confirms_a_customer_import(open_tab, live_server, manager, viewport):
    tab = open_tab(viewport)
    page = tab.page
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "import_manager")
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    expect(page.locator(".navbar-text.who")).to_contain_text("Morgan Lead")
    page.goto(live_server.url + "/customers/")
    page.click("#customer-import")
    tab.check("import-upload")

    page.set_input_files("#id_file", files=[{"name": "customers.csv", "mimeType": "text/csv", "buffer": BAD}])
    page.click("#import-preview")
    expect(page.locator("#import-errors")).to_contain_text("Row 3, field annual_value: “12;5” is not a number.")
    expect(page.locator("#import-confirm")).to_have_count(0)
    tab.check("import-errors")

    page.set_input_files("#id_file", files=[{"name": "customers.csv", "mimeType": "text/csv", "buffer": GOOD}])
    page.click("#import-preview")
    expect(page.locator("[data-testid=import-row][data-status=new]")).to_have_count(2)
    tab.check("import-preview")
    assert Customer.objects.count() == 0

    page.click("#import-confirm")
    expect(page.locator(".messages")).to_contain_text("customers.csv imported: 2 new, 0 updated, 0 unchanged.")
    expect(page.locator("[data-testid=customer-row]")).to_have_count(2)
    tab.check("import-done")
    assert sorted(Customer.objects.values_list("code", flat=True)) == ["N-1", "N-2"]
