"""The Content Security Policy in a real browser: every main page works under it, with no violation.

The live server sends the same header as production (django-csp is on in the test settings).
Chromium reports a blocked inline script, inline style or foreign source as a console error
("... violates the following Content Security Policy directive ..."), which Tab.check turns
into a failure; the first test proves it does.
"""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import PlanRun, ScoringPolicy
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    FollowUpFactory,
    NeedFactory,
    OpportunityFactory,
    OrderFactory,
    RepProfileFactory,
    UserFactory,
    VisitFactory,
    stage,
)
from visits.services import local_zone

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "pw-for-tests"  # UserFactory's


@pytest.fixture
def team_world():
    """A manager, their rep with customers, today's visits, a follow-up, deals and an order; an admin."""
    zone = local_zone()
    today = timezone.localdate(timezone=zone)
    profile = RepProfileFactory(
        user__username="csp_rep", user__first_name="Riley", user__last_name="Field", working_days=127
    )
    rep = profile.user
    manager = UserFactory(username="csp_manager", first_name="Morgan", last_name="Lead", role="Manager")
    profile.team.managers.add(manager)
    UserFactory(username="csp_admin", role="Admin", is_staff=True, is_superuser=True)
    customer = CustomerFactory(owner=rep, name="Atelier Nord", latitude=48.87, longitude=2.36)
    ContactFactory(customer=customer)
    NeedFactory(customer=customer)
    CustomerFactory(owner=rep, name="Boulangerie Ouest", latitude=48.84, longitude=2.30)
    visit = VisitFactory(customer=customer, planned_start=datetime.combine(today, time(10), tzinfo=zone))
    VisitFactory(customer=customer, planned_start=datetime.combine(today + timedelta(days=1), time(14), tzinfo=zone))
    FollowUpFactory(visit=visit, due_date=today)
    deal = OpportunityFactory(customer=customer, stage=stage("discovery"), amount=Decimal("4000.00"))
    closed_at = timezone.now()
    won = OpportunityFactory(
        customer=customer,
        stage=stage("won"),
        amount=Decimal("2500.00"),
        opened_at=closed_at - timedelta(days=30),
        closed_at=closed_at,
    )
    OrderFactory(opportunity=won)
    PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES,
        status=PlanRun.Status.SUCCEEDED,
        as_of=timezone.now(),
        policy=ScoringPolicy.objects.get(active=True),
        total=2,
        done=2,
    )
    return {"customer": customer, "visit": visit, "deal": deal}


def log_in(tab, live_server, username: str) -> None:
    page = tab.page
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    expect(page.locator("form[action='/logout/']")).to_be_visible()


def visit_pages(tab, live_server, who: str, pages: dict[str, str]) -> None:
    """Open each {step: path}, check it answered 200 under the policy, screenshot it, assert no error."""
    for step, path in pages.items():
        response = tab.page.goto(live_server.url + path, wait_until="networkidle")
        assert response.status == 200, f"{who} {path}: {response.status}"
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        tab.page.wait_for_timeout(150)  # late violations (charts, maps, htmx swaps) reach the console
        tab.check(f"csp-{who}-{step}")


def test_the_browser_enforces_the_policy_and_the_guard_sees_violations(open_tab, live_server, team_world):
    tab = open_tab("desktop")
    log_in(tab, live_server, "csp_rep")
    page = tab.page
    page.goto(live_server.url + "/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
            document.body.insertAdjacentHTML("beforeend", '<p id="styled" style="color: rgb(255, 0, 0)">x</p>');
        }"""
    )
    page.wait_for_timeout(100)
    assert page.evaluate("window.inlineRan") is None  # the inline script never ran
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    violations = [error for error in tab.errors if "Content Security Policy directive" in error]
    assert any("script-src 'self'" in error for error in violations), tab.errors
    assert any("style-src 'self'" in error for error in violations), tab.errors


def test_a_rep_s_pages_satisfy_the_policy(open_tab, live_server, team_world):
    tab = open_tab("desktop")
    log_in(tab, live_server, "csp_rep")
    customer, visit, deal = team_world["customer"], team_world["visit"], team_world["deal"]
    pages = {
        "home": "/",
        "today": "/today/",
        "week": "/calendar/",
        "customers": "/customers/",
        "customer": f"/customers/{customer.pk}/",
        "visit": f"/visits/{visit.pk}/",
        "followups": "/followups/",
        "board": "/pipeline/",
        "opportunities": "/pipeline/opportunities/",
        "opportunity": f"/pipeline/opportunities/{deal.pk}/",
        "orders": "/pipeline/orders/",
    }
    visit_pages(tab, live_server, "rep", pages)


def test_a_manager_s_pages_satisfy_the_policy(open_tab, live_server, team_world):
    tab = open_tab("desktop")
    log_in(tab, live_server, "csp_manager")
    pages = {
        "home": "/",
        "today": "/today/",
        "week": "/calendar/",
        "customers": "/customers/",
        "customer": f"/customers/{team_world['customer'].pk}/",
        "followups": "/followups/",
        "dashboard": "/dashboard/",
        "runs": "/runs/",
        "board": "/pipeline/",
    }
    visit_pages(tab, live_server, "manager", pages)


def test_the_admin_satisfies_the_policy(open_tab, live_server, team_world):
    tab = open_tab("desktop")
    log_in(tab, live_server, "csp_admin")
    pages = {
        "index": "/admin/",
        "plan-runs": "/admin/analytics/planrun/",
        "customers": "/admin/crm/customer/",
        "customer": f"/admin/crm/customer/{team_world['customer'].pk}/change/",
        "visit-add": "/admin/visits/visit/add/",
    }
    visit_pages(tab, live_server, "admin", pages)


def test_the_lockout_page_satisfies_the_policy(open_tab, live_server, team_world, settings):
    settings.AXES_ENABLED = True
    tab = open_tab("desktop")
    page = tab.page
    page.goto(live_server.url + "/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.fill("#id_username", "csp_rep")
        page.fill("#id_password", "wrong-password")
        page.click("form[action='/login/'] button[type=submit]")
        page.wait_for_load_state()

    expect(page.get_by_test_id("lockout-message")).to_contain_text("blocked for 15 minutes")
    tab.errors = [e for e in tab.errors if "429 (Too Many Requests)" not in e]  # the status itself is logged
    tab.check("csp-lockout")


def test_the_api_docs_satisfy_the_policy(open_tab, live_server, team_world):
    tab = open_tab("desktop")
    log_in(tab, live_server, "csp_manager")
    visit_pages(tab, live_server, "manager", {"api-docs": "/api/docs/"})
    expect(tab.page.locator(".swagger-ui .opblock").first).to_be_visible()  # Swagger UI drew the operations
    tab.check("csp-manager-api-docs-drawn")
