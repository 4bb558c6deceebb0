"""The manager dashboard in a real browser: cards, every chart drawn, field today loaded by htmx, no JS error."""

from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import NeedModelFit
from tests.factories import CustomerFactory, OpportunityFactory, RepProfileFactory, UserFactory, VisitFactory, stage
from visits.services import local_zone

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "pw-for-tests"  # UserFactory's
CHARTS = (
    "chart-funnel",
    "chart-monthly",
    "chart-satisfaction",
    "chart-plan",
    "chart-need-curve",
    "chart-need-calibration",
)


@pytest.fixture
def team_month():
    """A manager with two reps; this month one won and one lost deal, a visit missed yesterday, a fitted model."""
    zone = local_zone()
    today = timezone.localdate(timezone=zone)
    manager = UserFactory(username="e2e_manager", first_name="Morgan", last_name="Lead", role="Manager")
    first = RepProfileFactory(user__first_name="Ada", user__last_name="North")
    second = RepProfileFactory(team=first.team, user__first_name="Ben", user__last_name="South")
    first.team.managers.add(manager)
    closed_at = datetime.combine(today.replace(day=1), time(10), tzinfo=zone)
    for profile, code in ((first, "won"), (second, "lost")):
        customer = CustomerFactory(owner=profile.user)
        OpportunityFactory(
            customer=customer,
            stage=stage(code),
            amount=Decimal("2500.00"),
            opened_at=closed_at - timedelta(days=30),
            closed_at=closed_at,
        )
    VisitFactory(
        customer=CustomerFactory(owner=second.user, name="Quincaillerie Martin"),
        planned_start=datetime.combine(today - timedelta(days=1), time(11), tzinfo=zone),
    )
    NeedModelFit.objects.create(
        as_of=timezone.now(),
        status=NeedModelFit.Status.FITTED,
        a=-1.2,
        b=0.35,
        sample_size=120,
        log_loss=0.61,
        engagement_max=12,
        calibration=[
            {"decile": i + 1, "predicted": 0.1 + 0.07 * i, "observed": 0.12 + 0.06 * i, "count": 12} for i in range(10)
        ],
    )
    return manager


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_dashboard_renders_cards_charts_and_field_today(open_tab, live_server, team_month, viewport):
    tab = open_tab(viewport)
    page = tab.page
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "e2e_manager")
    page.fill("#id_password", PASSWORD)
    page.click("form[action='/login/'] button[type=submit]")
    expect(page.locator(".navbar-text.who")).to_contain_text("Morgan Lead")

    page.goto(live_server.url + "/dashboard/")

    # Nine KPI cards plus won/lost; win rate 1 won / (1 won + 1 lost) = 50 %.
    expect(page.locator(".fw-kpi")).to_have_count(10)
    expect(page.locator("[data-kpi=win_rate] .fw-kpi-value")).to_have_text("50.0 %")
    expect(page.locator("[data-kpi=cs_need] .fw-kpi-value")).to_have_text("—")
    # Every chart has a Chart.js instance with data.
    for canvas in CHARTS:
        page.wait_for_function(f"() => window.Chart && Chart.getChart('{canvas}') !== undefined")
    drawn = page.evaluate(f"() => {list(CHARTS)}.map(id => Chart.getChart(id).data.datasets.length)")
    assert all(n >= 1 for n in drawn)
    # The field-today panel arrives by htmx: yesterday's visit nobody checked in to.
    expect(page.locator("#field-today [data-count=missed]")).to_have_text("1")
    expect(page.locator("#field-today")).to_contain_text("Quincaillerie Martin")
    # Per-rep table: both reps; sorting by win rate puts Ada (100 %) first.
    expect(page.locator(".fw-rep-table tbody tr")).to_have_count(2)
    page.locator(".fw-rep-table thead a", has_text="Win rate").click()
    expect(page.locator(".fw-rep-table tbody tr").first).to_contain_text("Ada North")
    tab.check("dashboard")
