"""Customers list (scope, search, filters, sorts, pages) and the Customer 360 page with known numbers."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.selectors import profile360_cache_forget
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    NeedFactory,
    OpportunityFactory,
    UserFactory,
    VisitFactory,
    stage,
)

LIST_URL = reverse("crm:customer_list")


@pytest.fixture(autouse=True)
def fresh_cache():
    # The 360 page keeps every customer's profile aggregates in the cache for a while.
    profile360_cache_forget()
    yield
    profile360_cache_forget()


def detail_url(customer) -> str:
    return reverse("crm:customer_detail", args=[customer.pk])


def logged_in(client, user):
    client.force_login(user)
    return client


def codes(response) -> list[str]:
    """Customer codes of the rows on the page, in order."""
    return [customer.code for customer in response.context["page"].object_list]


def score(customer, p: float) -> CustomerScore:
    run = PlanRun.objects.filter(kind=PlanRun.Kind.SCORES).first() or PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES, status=PlanRun.Status.SUCCEEDED, as_of=timezone.now()
    )
    return CustomerScore.objects.create(
        customer=customer,
        run=run,
        policy=ScoringPolicy.objects.get(active=True),
        t1=0.5,
        t2=1.0,
        t3=0.0,
        t4=1.0,
        t5=45.0,
        t6=15.0,
        p=p,
        t=45.0 + 15.0 * p,
        computed_at=timezone.now(),
    )


def completed_visit(customer, *, out, **fields):
    return VisitFactory(
        customer=customer,
        planned_start=out - timedelta(hours=1),
        status="completed",
        checked_in_at=out - timedelta(minutes=50),
        checked_out_at=out,
        **fields,
    )


# --- scope -----------------------------------------------------------------------------------


@pytest.fixture
def owned(rep, teammate, other_rep):
    """Two customers of the rep, one of the teammate, one of the other team's rep, one without owner."""
    return {
        "mine1": CustomerFactory(code="MINE1", name="Alpha Bakery", owner=rep),
        "mine2": CustomerFactory(code="MINE2", name="Beta Foods", owner=rep),
        "team": CustomerFactory(code="TEAM1", name="Gamma Tools", owner=teammate),
        "other": CustomerFactory(code="OTHER", name="Delta Steel", owner=other_rep),
        "orphan": CustomerFactory(code="ORPHAN", name="Epsilon Ltd", owner=None),
    }


def test_rep_sees_only_own_customers(client, rep, owned):
    response = logged_in(client, rep).get(LIST_URL)

    assert response.status_code == 200
    assert codes(response) == ["MINE1", "MINE2"]  # unscored: by name
    assert response.context["show_owner"] is False
    assert b"Delta Steel" not in response.content
    assert f'href="{detail_url(owned["mine1"])}"'.encode() in response.content


def test_manager_sees_the_team_with_owners(client, manager, owned):
    response = logged_in(client, manager).get(LIST_URL)

    assert codes(response) == ["MINE1", "MINE2", "TEAM1"]
    assert response.context["show_owner"] is True
    assert str(owned["team"].owner).encode() in response.content


def test_admin_sees_everyone(client, admin_user, owned):
    response = logged_in(client, admin_user).get(LIST_URL)

    assert codes(response) == ["MINE1", "MINE2", "OTHER", "ORPHAN", "TEAM1"]  # by name


def test_another_reps_customer_is_404(client, rep, owned):
    client = logged_in(client, rep)

    assert client.get(detail_url(owned["other"])).status_code == 404
    assert client.get(detail_url(owned["team"])).status_code == 404
    assert client.get(reverse("crm:customer_detail", args=[999999])).status_code == 404
    assert client.get(detail_url(owned["mine1"])).status_code == 200


def test_manager_opens_a_team_customer_but_not_another_teams(client, manager, owned):
    client = logged_in(client, manager)

    assert client.get(detail_url(owned["team"])).status_code == 200
    assert client.get(detail_url(owned["other"])).status_code == 404


def test_anonymous_is_sent_to_login(client, owned):
    response = client.get(LIST_URL)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- search and filters ------------------------------------------------------------------------


@pytest.fixture
def varied(rep):
    """Customers of the rep with known tier, segment, status, city and visits (relative to now)."""
    now = timezone.now()
    fresh = CustomerFactory(code="FRESH", name="Fresh Farm", city="Lyon", tier="A", segment="food", owner=rep)
    stale = CustomerFactory(code="STALE", name="Stale Steel", city="Lille", tier="B", segment="metal", owner=rep)
    never = CustomerFactory(code="NEVER", name="Never Visited", city="Nantes", tier="C", segment="food", owner=rep)
    weekly = CustomerFactory(
        code="WEEKLY", name="Weekly Wines", city="Dijon", tier="B", segment="food", visit_cadence_days=7, owner=rep
    )
    dormant = CustomerFactory(
        code="DORMANT", name="Dormant Docks", city="Brest", tier="C", segment="", status="inactive", owner=rep
    )
    completed_visit(fresh, out=now - timedelta(days=10))  # cadence 30: within it
    completed_visit(stale, out=now - timedelta(days=40))  # cadence 30: overdue
    completed_visit(stale, out=now - timedelta(days=70))
    VisitFactory(customer=stale, planned_start=now - timedelta(days=2), status="missed")  # not a completed visit
    completed_visit(weekly, out=now - timedelta(days=10))  # cadence 7: overdue
    completed_visit(dormant, out=now - timedelta(days=100))  # inactive: never overdue
    return {"fresh": fresh, "stale": stale, "never": never, "weekly": weekly, "dormant": dormant}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=fresh", ["FRESH"]),  # name, case-insensitive
        ("q=DORM", ["DORMANT"]),  # code
        ("q=lill", ["STALE"]),  # city
        ("q=  nantes ", ["NEVER"]),
        ("q=nothing-like-it", []),
        ("tier=B", ["STALE", "WEEKLY"]),
        ("tier=C", ["DORMANT", "NEVER"]),
        ("segment=food", ["FRESH", "NEVER", "WEEKLY"]),
        ("segment=metal", ["STALE"]),
        ("status=inactive", ["DORMANT"]),
        ("status=active", ["FRESH", "NEVER", "STALE", "WEEKLY"]),
        ("overdue=yes", ["NEVER", "STALE", "WEEKLY"]),
        ("overdue=no", ["DORMANT", "FRESH"]),
        ("overdue=yes&segment=food&tier=C", ["NEVER"]),
    ],
)
def test_search_and_filters(client, rep, varied, query, expected):
    response = logged_in(client, rep).get(f"{LIST_URL}?{query}&sort=name")

    assert response.status_code == 200
    assert sorted(codes(response)) == sorted(expected)


def test_overdue_badge_and_last_visit_column(client, rep, varied):
    response = logged_in(client, rep).get(f"{LIST_URL}?sort=name")
    rows = {customer.code: customer for customer in response.context["page"].object_list}

    assert rows["FRESH"].is_overdue is False
    assert rows["STALE"].is_overdue is True
    assert (
        rows["STALE"].last_visit_at
        == varied["stale"].visits.filter(status="completed").latest("checked_out_at").checked_out_at
    )
    assert rows["NEVER"].last_visit_at is None
    html = response.content.decode()
    assert html.count('data-testid="customer-overdue"') == 3
    assert "never" in html


def test_segment_choices_are_the_users_segments(client, rep, other_rep, varied):
    CustomerFactory(segment="secret-segment", owner=other_rep)

    response = logged_in(client, rep).get(LIST_URL)

    choices = [value for value, _ in response.context["filter"].form.fields["segment"].choices if value]
    assert choices == ["food", "metal"]


# --- sorting -------------------------------------------------------------------------------------


@pytest.fixture
def sortable(rep):
    now = timezone.now()
    a = CustomerFactory(code="A", name="Zulu", annual_value=Decimal("500.00"), owner=rep)
    b = CustomerFactory(code="B", name="Yankee", annual_value=Decimal("90000.00"), owner=rep)
    c = CustomerFactory(code="C", name="Xray", annual_value=Decimal("7000.00"), owner=rep)
    d = CustomerFactory(code="D", name="Whiskey", annual_value=Decimal("0.00"), owner=rep)
    score(a, 0.75)
    score(b, 2.5)
    score(c, 1.125)  # d is not scored
    completed_visit(a, out=now - timedelta(days=3))
    completed_visit(b, out=now - timedelta(days=50))
    completed_visit(c, out=now - timedelta(days=20))
    return a, b, c, d


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("", ["B", "C", "A", "D"]),  # default: priority, unscored last
        ("priority", ["B", "C", "A", "D"]),
        ("last_visit", ["D", "B", "C", "A"]),  # never visited, then longest ago
        ("-last_visit", ["A", "C", "B", "D"]),
        ("value", ["B", "C", "A", "D"]),
        ("name", ["D", "C", "B", "A"]),
    ],
)
def test_sorts(client, rep, sortable, sort, expected):
    response = logged_in(client, rep).get(f"{LIST_URL}?sort={sort}")

    assert codes(response) == expected


def test_priority_column_two_decimals_or_dash(client, rep, sortable):
    html = logged_in(client, rep).get(LIST_URL).content.decode()

    cells = re.findall(r'data-testid="customer-priority">([^<]*)<', html)
    assert cells == ["2.50", "1.13", "0.75", "—"]


# --- pages and query counts -------------------------------------------------------------------------


@pytest.fixture
def thirty(rep):
    """30 customers of the rep (tier B), each scored and visited, plus 3 tier-C ones."""
    now = timezone.now()
    customers = [CustomerFactory(code=f"P{n:02d}", name=f"Customer {n:02d}", tier="B", owner=rep) for n in range(30)]
    for n, customer in enumerate(customers):
        score(customer, n / 10)
        completed_visit(customer, out=now - timedelta(days=n + 1))
        ContactFactory(customer=customer)
    for n in range(3):
        CustomerFactory(code=f"Q{n:02d}", tier="C", owner=rep)
    return customers


def test_pagination_25_per_page_keeps_the_filters(client, rep, thirty):
    client = logged_in(client, rep)

    first = client.get(f"{LIST_URL}?tier=B&sort=name")
    second = client.get(f"{LIST_URL}?tier=B&sort=name&page=2")

    assert codes(first) == [f"P{n:02d}" for n in range(25)]
    assert codes(second) == [f"P{n:02d}" for n in range(25, 30)]
    assert first.context["page"].paginator.count == 30
    html = first.content.decode()
    next_link = re.search(r'id="customer-page-next"[^>]*href="([^"]*)"', html).group(1)
    assert next_link.replace("&amp;", "&") == "?tier=B&sort=name&page=2"
    previous = re.search(r'id="customer-page-previous"[^>]*href="([^"]*)"', second.content.decode()).group(1)
    assert previous.replace("&amp;", "&") == "?tier=B&sort=name&page=1"


def test_a_page_past_the_end_shows_the_last(client, rep, thirty):
    response = logged_in(client, rep).get(f"{LIST_URL}?tier=B&page=9")

    assert response.context["page"].number == 2


@pytest.mark.parametrize("sort", ["priority", "last_visit", "value", "name"])
def test_list_query_count_is_bounded(client, manager, rep, thirty, django_assert_max_num_queries, sort):
    client = logged_in(client, manager)

    # session, user, groups, segments, count, one page of rows (owner, P and last visit joined in)
    with django_assert_max_num_queries(6):
        response = client.get(f"{LIST_URL}?sort={sort}&overdue=no&q=customer")

    assert len(response.context["page"].object_list) == 25


# --- the Customer 360 page ----------------------------------------------------------------------------

PARIS_TZ = "Europe/Paris"


def paris(*args) -> datetime:
    """A wall-clock time in Paris (winter: UTC+1) as an aware UTC datetime."""
    return datetime(*args, tzinfo=UTC) - timedelta(hours=1)


@pytest.fixture
def known(rep, settings):
    """A customer whose four ratios are worked out by hand below (TIME_ZONE Europe/Paris)."""
    settings.TIME_ZONE = PARIS_TZ
    customer = CustomerFactory(
        code="KNOWN",
        name="Known Numbers SA",
        tier="A",
        segment="retail",
        address="1 rue de Rivoli",
        city="Paris",
        country="France",
        owner=rep,
    )

    def done(start, *, late_minutes=0, report_after=timedelta(hours=1), **fields):
        checked_in = start + timedelta(minutes=late_minutes)
        out = checked_in + timedelta(minutes=50)
        return VisitFactory(
            customer=customer,
            planned_start=start,
            status="completed",
            checked_in_at=checked_in,
            checked_out_at=out,
            report_filed_at=out + report_after,
            **fields,
        )

    # Compliant: in 10 min late, report 1 h after. Needs 2 of 3, scores 4 for 5 expected.
    done(
        paris(2025, 1, 6, 9),
        late_minutes=10,
        needs_raised=3,
        needs_satisfied=2,
        actual_satisfaction=4,
        expected_satisfaction=5,
    )
    # Not compliant: 45 min late. Needs 1 of 2, scores 3 for 3.
    done(
        paris(2025, 1, 8, 14),
        late_minutes=45,
        needs_raised=2,
        needs_satisfied=1,
        actual_satisfaction=3,
        expected_satisfaction=3,
    )
    # Not compliant: report 2 days later. Needs 1 of 1, only the actual score (left out of CS_expectation).
    done(
        paris(2025, 1, 10, 10), report_after=timedelta(days=2), needs_raised=1, needs_satisfied=1, actual_satisfaction=5
    )
    # Cancelled two days before its day: not planned.
    VisitFactory(
        customer=customer,
        planned_start=paris(2025, 1, 20, 9),
        status="cancelled",
        cancelled_at=paris(2025, 1, 18, 10),
    )
    # Cancelled at 00:30 Paris on its own day (23:30 UTC the day before): planned, not completed.
    VisitFactory(
        customer=customer,
        planned_start=paris(2025, 1, 15, 9),
        status="cancelled",
        cancelled_at=datetime(2025, 1, 14, 23, 30, tzinfo=UTC),
    )
    # Missed: planned, not completed.
    VisitFactory(customer=customer, planned_start=paris(2025, 1, 22, 9), status="missed")
    # Still ahead: not yet due, so not in CS_plan.
    VisitFactory(customer=customer, planned_start=timezone.now() + timedelta(days=3))
    return customer


def ratio_cells(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-testid="ratio-(\w+)"[^>]*>([^<]*)<', html))


def test_ratios_on_the_page_match_the_hand_computation(client, rep, known):
    response = logged_in(client, rep).get(detail_url(known))

    assert response.status_code == 200
    # CS_need 100*(2+1+1)/(3+2+1); CS_expectation 100*(4+3)/(5+3);
    # CS_plan 3 completed of 5 planned (the on-the-day cancellation and the missed visit count, the
    # early cancellation and the future visit do not); CS_policy 1 compliant of 3 completed.
    assert ratio_cells(response.content.decode()) == {
        "need": "66.7%",
        "expectation": "87.5%",
        "plan": "60.0%",
        "policy": "33.3%",
    }
    values = {line.key: line.value for line in response.context["ratios"]}
    assert values["need"] == pytest.approx(400 / 6)
    assert values["plan"] == pytest.approx(60.0)


def test_cs_plan_uses_the_local_day(client, rep, known, settings):
    # In UTC the 00:30-Paris cancellation falls on the day before: 3 completed of 4 planned.
    settings.TIME_ZONE = "UTC"

    response = logged_in(client, rep).get(detail_url(known))

    assert ratio_cells(response.content.decode())["plan"] == "75.0%"


def test_each_ratio_shows_its_definition_on_hover(client, rep, known):
    html = logged_in(client, rep).get(detail_url(known)).content.decode()

    assert re.search(r'<dd[^>]*data-testid="ratio-policy" title="[^"]*within 30 minutes[^"]*24 hours', html)
    assert re.search(r'<dd[^>]*data-testid="ratio-need" title="100 × needs satisfied / needs raised', html)


def test_no_completed_visit_shows_dashes(client, rep):
    customer = CustomerFactory(owner=rep)
    VisitFactory(customer=customer, planned_start=timezone.now() + timedelta(days=2))
    VisitFactory(
        customer=customer,
        planned_start=timezone.now() - timedelta(days=5),
        status="cancelled",
        cancelled_at=timezone.now() - timedelta(days=9),
    )

    response = logged_in(client, rep).get(detail_url(customer))
    html = response.content.decode()

    assert ratio_cells(html) == {"need": "—", "expectation": "—", "plan": "—", "policy": "—"}
    assert 'data-testid="score-none"' in html
    # Never visited nor scored: only behaviour (0 visits and orders a month) is defined.
    profile = {d.key: d.value for d in response.context["profile"].dimensions}
    assert profile == {"demand": None, "behaviour": 0.0, "value": None, "relationship": None, "satisfaction": None}
    assert 'data-testid="profile-demand">—<' in html


def test_header_contacts_needs_visits_opportunities_and_score(client, rep, known):
    ContactFactory(customer=known, name="Camille Primary", is_primary=True, phone="+33 1 23 45 67 89")
    ContactFactory(customer=known, name="Bob Second")
    NeedFactory(customer=known, description="Faster delivery to the Lyon shop")
    NeedFactory(
        customer=known, description="Met already", satisfied=True, satisfied_at=timezone.now() + timedelta(minutes=1)
    )
    OpportunityFactory(customer=known, amount=Decimal("12500.00"), stage=stage("communication"), probability="0.400")
    OpportunityFactory(customer=known, amount=Decimal("3000.00"), stage=stage("won"), probability="1.000")
    score(known, 1.2345)

    response = logged_in(client, rep).get(detail_url(known))
    html = response.content.decode()

    assert "Known Numbers SA" in html
    assert "1 rue de Rivoli, Paris, France" in html
    assert re.search(r'data-testid="customer-owner">\s*' + re.escape(str(rep)), html)
    assert [c.name for c in response.context["contacts"]] == ["Camille Primary", "Bob Second"]
    assert [n.description for n in response.context["needs"]] == ["Faster delivery to the Lyon shop"]
    assert "Met already" not in html
    assert len(response.context["visits"]) == 7
    assert html.count('data-testid="visit-row"') == 7
    # Open deal first: stage, amount and probability.
    rows = re.findall(r'data-testid="opportunity-row">(.*?)</tr>', html, flags=re.S)
    assert "Communication" in rows[0]
    assert "12,500" in rows[0]
    assert "40%" in rows[0]
    assert "Won" in rows[1]
    # The score card: P with two decimals, booked minutes, inputs in words, the top term.
    assert 'data-testid="score-p">1.23<' in html
    assert 'data-testid="score-line-urgency"' in html
    assert response.context["score"].top_term is not None
    assert 'id="customer-profile-data"' in html  # chart data through json_script
    assert "crm/customer_detail.js" in html
    assert "vendor/chartjs/chart.umd.min.js" in html


def test_visit_history_shows_the_latest_20(client, rep):
    customer = CustomerFactory(owner=rep)
    now = timezone.now()
    for n in range(23):
        completed_visit(customer, out=now - timedelta(days=n + 1), actual_satisfaction=4, expected_satisfaction=5)

    response = logged_in(client, rep).get(detail_url(customer))

    visits = response.context["visits"]
    assert len(visits) == 20
    assert visits[0].checked_out_at == now - timedelta(days=1)
    assert "4 / 5" in response.content.decode()


def test_inactive_customer_has_no_profile(client, rep):
    customer = CustomerFactory(owner=rep, status="inactive")

    response = logged_in(client, rep).get(detail_url(customer))

    assert response.context["profile"] is None
    assert 'data-testid="profile-none"' in response.content.decode()
    assert "chart.umd.min.js" not in response.content.decode()


def test_detail_query_count_is_bounded(client, rep, known, thirty, django_assert_max_num_queries):
    for _ in range(5):
        ContactFactory(customer=known)
        NeedFactory(customer=known)
        OpportunityFactory(customer=known)
    score(known, 1.0)
    client = logged_in(client, rep)

    # 3 for the request (session, user, groups), 1 customer, contacts, needs, visits, opportunities,
    # score (customer, score, inputs), profile (customer; customers, visit and order aggregates for
    # the customer, and once more for everyone while the cache is cold), ratios (customer, visits).
    # On PostgreSQL the score's inputs also turn JIT off inside the test's transaction: one more.
    with django_assert_max_num_queries(21):
        cold = client.get(detail_url(known))
    with django_assert_max_num_queries(18):
        warm = client.get(detail_url(known))

    assert cold.status_code == warm.status_code == 200
    assert cold.context["profile"].dimensions == warm.context["profile"].dimensions


def test_manager_without_a_role_elsewhere_sees_no_other_team(client, db, owned):
    stranger = UserFactory(username="manager_south", role="Manager")

    response = logged_in(client, stranger).get(LIST_URL)

    assert codes(response) == []
    assert 'data-testid="customer-empty"' in response.content.decode()


def test_invalid_parameters_are_reported_not_fatal(client, rep, sortable):
    response = logged_in(client, rep).get(f"{LIST_URL}?tier=Z&sort=bogus&page=abc")

    assert response.status_code == 200
    assert codes(response) == ["B", "C", "A", "D"]  # the valid default order, page 1
    assert "tier" in response.context["filter"].form.errors
    assert response.context["page"].number == 1


def test_detail_answers_get_only_and_404_first(client, rep, owned):
    client = logged_in(client, rep)

    assert client.post(detail_url(owned["mine1"])).status_code == 405
    assert client.post(detail_url(owned["other"])).status_code == 404
    assert client.post(LIST_URL).status_code == 405
