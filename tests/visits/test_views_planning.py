"""Today and the week calendar, for each role: scope, route order, reasons, actions and their messages."""

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from tests.factories import CustomerFactory, VisitFactory
from visits.models import Visit

UTC = ZoneInfo("UTC")
MONDAY = date(2026, 11, 23)
TUESDAY = MONDAY + timedelta(days=1)
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # TIME_ZONE is UTC in the test settings
UNREACHABLE_TILES = "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


def reason(p, terms, minutes, travel):
    return {
        "p": p,
        "minutes": minutes,
        "effort_hours": 0.6,
        "terms": [{"term": name, "contribution": value} for name, value in terms],
        "travel_minutes": travel,
    }


@pytest.fixture
def route(rep):
    """Rep's Tuesday: base at 45.0N 5.0E, stops 0.1 degree of latitude apart (11.12 km, 16.7 min at 40 km/h).

    Created out of order, to show the page orders by planned start (the planner's route order).
    """
    profile = rep.rep_profile
    profile.home_latitude, profile.home_longitude = 45.0, 5.0
    profile.save()
    north = CustomerFactory(
        owner=rep, name="North Farm", address="2 Hill Road", city="Lyon", latitude=45.2, longitude=5.0
    )
    mid = CustomerFactory(owner=rep, name="Mid Mill", address="1 Mill Lane", city="Lyon", latitude=45.1, longitude=5.0)
    gone = CustomerFactory(owner=rep, name="Closed Shop", latitude=45.3, longitude=5.0)
    second = VisitFactory(
        customer=north,
        planned_start=at(TUESDAY, 10, 15),
        planned_minutes=60,
        origin="planner",
        priority=1.2,
        plan_reason=reason(1.2, [("value", 0.41), ("urgency", 0.2), ("pipeline", 0.0)], 60, 16.7),
    )
    first = VisitFactory(
        customer=mid,
        planned_start=at(TUESDAY, 9, 0),
        planned_minutes=45,
        origin="planner",
        priority=2.31,
        plan_reason=reason(2.31, [("urgency", 0.9), ("value", 0.4), ("pipeline", 0.05)], 45, 16.7),
    )
    cancelled = VisitFactory(
        customer=gone, planned_start=at(TUESDAY, 14), status="cancelled", cancel_reason="Shop closed for good"
    )
    return first, second, cancelled


def messages_of(response) -> list[str]:
    """The messages stored so far in this client's session (redirects are not followed)."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def today_url(**params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("visits:today") + (f"?{query}" if query else "")


# --- Today -----------------------------------------------------------------------------------


def test_today_lists_the_day_in_route_order_with_times_addresses_and_reasons(client, rep, route):
    first, second, cancelled = route
    client.force_login(rep)

    response = client.get(today_url(date="2026-11-24"))

    assert response.status_code == 200
    plan = response.context["plan"]
    assert [(row.number, row.visit.pk) for row in plan.visits] == [(1, first.pk), (2, second.pk), (None, cancelled.pk)]
    # Driving: base -> Mid 16.7, Mid -> North 16.7, North -> base 33.4 min; 66.7 in all.
    assert [row.drive_minutes for row in plan.visits] == [16.7, 16.7, None]
    assert (plan.return_minutes, plan.drive_minutes) == (33.4, 66.7)
    assert (plan.first_start, plan.last_end) == (at(TUESDAY, 9), at(TUESDAY, 11, 15))
    assert (plan.day_from, plan.day_to) == (at(TUESDAY, 8, 30), at(TUESDAY, 17, 30))
    html = response.content.decode()
    assert html.index("Mid Mill") < html.index("North Farm") < html.index("Closed Shop")
    assert "09:00–09:45" in html
    assert "10:15–11:15" in html
    assert "1 Mill Lane, Lyon" in html
    assert "urgency 0.9, value 0.4, pipeline 0.05" in html
    assert "value 0.41, urgency 0.2" in html
    assert "P 2.31" in html
    assert "45 min booked" in html
    assert "17 min travel" in html
    assert "Shop closed for good" in html
    assert 'data-testid="today-driving">67 min<' in html
    assert 'data-testid="today-first-start">09:00<' in html
    assert 'data-testid="today-last-end">11:15<' in html
    assert 'data-testid="today-hours">08:30–17:30<' in html
    assert "https://www.google.com/maps/dir/?api=1&amp;destination=45.100000%2C5.000000" in html
    assert reverse("visits:visit_detail", args=[first.pk]) in html


def test_today_map_data_has_the_base_and_numbered_stops_and_the_tile_setting(client, settings, rep, route):
    settings.FIELDWISE_TILE_URL = UNREACHABLE_TILES  # offline tiles: the page still sends every vector
    first, second, _ = route
    client.force_login(rep)

    response = client.get(today_url(date="2026-11-24"))

    html = response.content.decode()
    assert '<script id="today-map-data" type="application/json">' in html
    assert "vendor/leaflet/leaflet.js" in html
    assert "visits/today.js" in html
    data = response.context["map_data"]
    assert data["tiles"]["url"] == UNREACHABLE_TILES
    assert data["base"] == {"lat": 45.0, "lon": 5.0, "label": "Base"}
    assert [(s["n"], s["name"], s["lat"], s["time"]) for s in data["stops"]] == [
        (1, "Mid Mill", 45.1, "09:00"),
        (2, "North Farm", 45.2, "10:15"),
    ]
    assert data["stops"][0]["url"] == reverse("visits:visit_detail", args=[first.pk])
    json.dumps(data)  # what json_script serialises


def test_a_customer_without_coordinates_gets_an_address_link_and_stays_off_the_map(client, rep):
    customer = CustomerFactory(
        owner=rep,
        name="Nowhere Ltd",
        address="5 Rue Neuve",
        city="Paris",
        country="France",
        latitude=None,
        longitude=None,
    )
    VisitFactory(customer=customer, planned_start=at(TUESDAY, 9))
    client.force_login(rep)

    response = client.get(today_url(date="2026-11-24"))

    html = response.content.decode()
    assert "destination=5+Rue+Neuve%2C+Paris%2C+France" in html
    assert response.context["map_data"]["stops"] == []
    assert "1 stop has no coordinates and is not on the map." in html
    assert "added by a person" in html  # a manual visit has no planner reason


def test_today_defaults_to_the_current_day_and_shows_an_empty_day(client, rep, route):
    client.force_login(rep)
    response = client.get(today_url())
    assert response.context["plan"].day == MONDAY
    assert response.context["is_today"] is True
    assert 'id="today-empty"' in response.content.decode()


def test_today_shows_only_the_users_own_visits(client, rep, teammate, route):
    VisitFactory(customer=CustomerFactory(owner=teammate, name="Teammate Co"), planned_start=at(TUESDAY, 9))
    client.force_login(rep)
    response = client.get(today_url(date="2026-11-24"))
    assert "Teammate Co" not in response.content.decode()
    assert len(response.context["plan"].visits) == 3


def test_a_rep_cannot_open_another_reps_day(client, rep, teammate, other_rep):
    client.force_login(rep)
    for rep_id in (teammate.pk, other_rep.pk, "abc", 999999):
        assert client.get(today_url(rep=rep_id)).status_code == 404
    assert client.get(today_url(rep=rep.pk)).status_code == 200


def test_a_manager_sees_their_own_day_and_picks_a_rep_of_their_team(client, manager, rep, other_rep, route):
    client.force_login(manager)

    own = client.get(today_url(date="2026-11-24"))
    assert own.status_code == 200
    assert own.context["plan"].visits == []
    assert set(own.context["rep_choices"]) == {manager, rep}  # not other_rep, of another team

    theirs = client.get(today_url(date="2026-11-24", rep=rep.pk))
    assert theirs.status_code == 200
    assert [row.visit.customer.name for row in theirs.context["plan"].visits] == [
        "Mid Mill",
        "North Farm",
        "Closed Shop",
    ]
    assert client.get(today_url(rep=other_rep.pk)).status_code == 404


def test_an_admin_may_open_any_reps_day(client, admin_user, other_rep):
    client.force_login(admin_user)
    assert client.get(today_url(rep=other_rep.pk)).status_code == 200


def test_anonymous_users_are_sent_to_log_in(client):
    for url in (today_url(), reverse("visits:calendar"), reverse("visits:visit_create")):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_today_query_count_does_not_grow_with_the_visits(client, rep, django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(12, owner=rep)
    for index, customer in enumerate(customers):
        VisitFactory(
            customer=customer, planned_start=at(TUESDAY, 9) + timedelta(minutes=40 * index), planned_minutes=30
        )
    client.force_login(rep)
    with django_assert_max_num_queries(8):
        response = client.get(today_url(date="2026-11-24"))
    assert len(response.context["plan"].visits) == 12


# --- calendar --------------------------------------------------------------------------------


def calendar_url(**params) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("visits:calendar") + (f"?{query}" if query else "")


def test_calendar_shows_monday_to_sunday_with_the_visits_as_blocks(client, rep, route):
    first, second, cancelled = route
    VisitFactory(customer=first.customer, planned_start=at(MONDAY + timedelta(days=7), 9))  # next week
    client.force_login(rep)

    response = client.get(calendar_url(week="2026-11-26"))  # any day picks its week

    assert response.status_code == 200
    grid = response.context["grid"]
    assert [day.day for day in grid.days] == [MONDAY + timedelta(days=i) for i in range(7)]
    assert [day.is_working for day in grid.days] == [True] * 5 + [False] * 2
    assert [[row.visit.pk for row in day.visits] for day in grid.days] == [
        [],
        [first.pk, second.pk, cancelled.pk],
        [],
        [],
        [],
        [],
        [],
    ]
    assert (grid.first_minute, grid.last_minute, grid.hours) == (480, 1080, list(range(8, 18)))
    html = response.content.decode()
    assert f'id="calendar-visit-{first.pk}"' in html
    assert 'data-start-minute="540.00" data-minutes="45"' in html
    assert f'id="move-form-{first.pk}"' in html
    assert f'id="confirm-form-{first.pk}"' in html
    assert f'id="cancel-form-{first.pk}"' in html
    assert f'id="move-form-{cancelled.pk}"' not in html  # a cancelled visit cannot move
    assert 'id="add-visit-form"' in html
    assert 'value="2026-11-24T09:00"' in html  # the move form starts at the visit's time


def test_calendar_add_form_offers_only_customers_in_scope(client, rep, other_rep):
    mine = CustomerFactory(owner=rep, name="Mine Inc")
    theirs = CustomerFactory(owner=other_rep, name="Theirs Inc")
    client.force_login(rep)
    form = client.get(calendar_url()).context["create_form"]
    assert list(form.fields["customer"].queryset) == [mine]
    assert theirs not in form.fields["customer"].queryset
    assert form.fields["rep"].widget.input_type == "hidden"


def test_a_rep_cannot_open_another_reps_week(client, rep, teammate):
    client.force_login(rep)
    assert client.get(calendar_url(rep=teammate.pk)).status_code == 404


def test_a_manager_opens_a_team_reps_week(client, manager, rep, other_rep, route):
    client.force_login(manager)
    response = client.get(calendar_url(week="2026-11-23", rep=rep.pk))
    assert response.status_code == 200
    assert response.context["grid"].visit_count == 3
    assert response.context["create_form"].fields["rep"].widget.input_type == "select"
    assert client.get(calendar_url(rep=other_rep.pk)).status_code == 404


def test_calendar_query_count_does_not_grow_with_the_visits(client, manager, rep, django_assert_max_num_queries):
    customers = CustomerFactory.create_batch(15, owner=rep)
    for index, customer in enumerate(customers):
        VisitFactory(customer=customer, planned_start=at(MONDAY + timedelta(days=index % 5), 9 + index // 5))
    client.force_login(manager)
    with django_assert_max_num_queries(10):
        response = client.get(calendar_url(week="2026-11-23", rep=rep.pk))
    assert response.context["grid"].visit_count == 15


# --- actions ---------------------------------------------------------------------------------


@pytest.fixture
def visit(rep):
    return VisitFactory(
        customer=CustomerFactory(owner=rep, name="Acme Tools"),
        planned_start=at(TUESDAY, 9),
        origin="planner",
        status="planned",
    )


@pytest.fixture
def foreign_visit(other_rep):
    return VisitFactory(customer=CustomerFactory(owner=other_rep), planned_start=at(TUESDAY, 9), status="planned")


ACTIONS = ("visits:visit_move", "visits:visit_confirm", "visits:visit_cancel")


@pytest.mark.parametrize("name", ACTIONS)
def test_every_action_on_another_reps_visit_is_404_for_get_and_post(client, rep, foreign_visit, name):
    client.force_login(rep)
    url = reverse(name, args=[foreign_visit.pk])
    assert client.get(url).status_code == 404
    data = {"start": "2026-11-24T10:00", "reason": "not mine"}
    assert client.post(url, data).status_code == 404
    foreign_visit.refresh_from_db()
    assert (foreign_visit.planned_start, foreign_visit.status) == (at(TUESDAY, 9), "planned")


@pytest.mark.parametrize("name", ACTIONS)
def test_get_on_an_action_shows_the_visits_scheduling_page(client, rep, visit, name):
    client.force_login(rep)
    response = client.get(reverse(name, args=[visit.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="visit-schedule"' in html
    assert f'id="move-form-{visit.pk}"' in html
    assert f'id="cancel-form-{visit.pk}"' in html


def test_rep_moves_their_visit_and_lands_on_its_new_week(client, rep, visit):
    client.force_login(rep)
    response = client.post(
        reverse("visits:visit_move", args=[visit.pk]), {"start": "2026-12-01T14:00", "next": calendar_url()}
    )
    assert response.status_code == 302
    assert response["Location"] == calendar_url(week="2026-11-30")
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(date(2026, 12, 1), 14), "confirmed")
    assert messages_of(response) == ["The visit to Acme Tools now starts Tuesday 1 December, 14:00 and is confirmed."]


def test_a_refused_move_goes_back_with_the_reason(client, rep, visit):
    VisitFactory(customer=CustomerFactory(owner=rep, name="Globex"), planned_start=at(TUESDAY, 14))
    client.force_login(rep)
    back = calendar_url(week="2026-11-23")
    response = client.post(reverse("visits:visit_move", args=[visit.pk]), {"start": "2026-11-24T14:15", "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    assert messages_of(response) == [
        "The visit was not moved: It overlaps the visit to Globex at Tue 24 Nov 14:00–14:45 (planned)."
    ]
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(TUESDAY, 9), "planned")


def test_a_move_without_a_valid_time_says_so(client, rep, visit):
    client.force_login(rep)
    response = client.post(reverse("visits:visit_move", args=[visit.pk]), {"start": "next tuesday"})
    assert response["Location"] == calendar_url(week="2026-11-23")
    assert messages_of(response) == [
        "The visit was not moved: Enter the start as a date and a time, e.g. 2026-11-23 09:30."
    ]


def test_next_never_leaves_the_site(client, rep, visit):
    client.force_login(rep)
    response = client.post(reverse("visits:visit_confirm", args=[visit.pk]), {"next": "https://evil.example.com/phish"})
    assert response["Location"] == calendar_url(week="2026-11-23")


def test_rep_confirms_their_visit(client, rep, visit):
    client.force_login(rep)
    response = client.post(reverse("visits:visit_confirm", args=[visit.pk]), {"next": today_url(date="2026-11-24")})
    assert response["Location"] == today_url(date="2026-11-24")
    assert messages_of(response) == ["The visit to Acme Tools is confirmed: the planner keeps it."]
    visit.refresh_from_db()
    assert visit.status == "confirmed"
    again = client.post(reverse("visits:visit_confirm", args=[visit.pk]))
    assert messages_of(again)[-1] == (
        "The visit was not confirmed: Only planned visits can be confirmed; this one is confirmed."
    )


def test_cancel_needs_a_reason_then_records_it(client, rep, visit):
    client.force_login(rep)
    url = reverse("visits:visit_cancel", args=[visit.pk])
    refused = client.post(url, {"reason": "  "})
    assert messages_of(refused) == ["The visit was not cancelled: Give a reason for cancelling the visit."]
    visit.refresh_from_db()
    assert visit.status == "planned"

    done = client.post(url, {"reason": "Customer on holiday"})
    assert messages_of(done)[-1] == "The visit to Acme Tools is cancelled."
    visit.refresh_from_db()
    assert (visit.status, visit.cancel_reason, visit.cancelled_at) == ("cancelled", "Customer on holiday", NOW)


def test_a_manager_acts_on_a_team_reps_visit(client, manager, rep, visit):
    client.force_login(manager)
    response = client.post(reverse("visits:visit_move", args=[visit.pk]), {"start": "2026-11-25T10:00"})
    assert response["Location"] == calendar_url(week="2026-11-23", rep=rep.pk)
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(date(2026, 11, 25), 10), "confirmed")
    client.post(reverse("visits:visit_cancel", args=[visit.pk]), {"reason": "Rep ill"})
    visit.refresh_from_db()
    assert (visit.status, visit.cancel_reason) == ("cancelled", "Rep ill")


def test_a_manager_cannot_act_on_another_teams_visit(client, manager, foreign_visit):
    client.force_login(manager)
    for name in ACTIONS:
        assert client.post(reverse(name, args=[foreign_visit.pk]), {"reason": "x"}).status_code == 404


# --- add a manual visit ----------------------------------------------------------------------


def test_rep_adds_a_manual_visit(client, rep):
    customer = CustomerFactory(owner=rep, name="Initech")
    client.force_login(rep)
    response = client.post(
        reverse("visits:visit_create"),
        {"rep": rep.pk, "customer": customer.pk, "start": "2026-11-26T15:30", "minutes": 30, "goal": "Renewal"},
    )
    assert response.status_code == 302
    assert response["Location"] == calendar_url(week="2026-11-23")
    visit = Visit.objects.get(customer=customer)
    assert (visit.rep, visit.planned_start, visit.planned_minutes, visit.goal, visit.status, visit.origin) == (
        rep,
        at(date(2026, 11, 26), 15, 30),
        30,
        "Renewal",
        "confirmed",
        "manual",
    )
    assert messages_of(response) == ["Visit to Initech added on Thursday 26 November, 15:30."]


def test_a_refused_manual_visit_comes_back_filled_with_the_reason_next_to_the_start(client, rep):
    customer = CustomerFactory(owner=rep, name="Initech")
    client.force_login(rep)
    response = client.post(
        reverse("visits:visit_create"),
        {"rep": rep.pk, "customer": customer.pk, "start": "2026-11-26T11:45", "minutes": 30, "goal": "Renewal talk"},
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors == {"start": ["11:45–12:15 overlaps the lunch break (12:00–13:00)."]}
    html = response.content.decode()
    assert 'value="Renewal talk"' in html
    assert 'value="2026-11-26T11:45"' in html
    assert messages_of(response) == ["The visit was not added: see the notes next to the fields."]
    assert not Visit.objects.exists()


def test_a_rep_cannot_book_another_reps_customer_or_for_another_rep(client, rep, teammate):
    theirs = CustomerFactory(owner=teammate)
    mine = CustomerFactory(owner=rep)
    client.force_login(rep)
    response = client.post(
        reverse("visits:visit_create"),
        {"rep": rep.pk, "customer": theirs.pk, "start": "2026-11-26T10:00", "minutes": 30},
    )
    assert response.context["form"].errors == {"customer": ["Pick one of the customers in the list."]}
    response = client.post(
        reverse("visits:visit_create"),
        {"rep": teammate.pk, "customer": mine.pk, "start": "2026-11-26T10:00", "minutes": 30},
    )
    assert response.context["form"].errors == {"rep": ["Pick a rep of yours."]}
    assert not Visit.objects.exists()
    assert client.get(reverse("visits:visit_create") + f"?rep={teammate.pk}").status_code == 404


def test_a_manager_adds_a_visit_for_a_team_rep_to_that_reps_customer_only(client, manager, rep, teammate):
    reps_customer = CustomerFactory(owner=rep, name="Rep Co")
    client.force_login(manager)
    refused = client.post(
        reverse("visits:visit_create"),
        {"rep": teammate.pk, "customer": reps_customer.pk, "start": "2026-11-26T10:00", "minutes": 30},
    )
    assert refused.context["form"].errors["customer"][0].startswith("Rep Co is not one of ")
    done = client.post(
        reverse("visits:visit_create"),
        {"rep": rep.pk, "customer": reps_customer.pk, "start": "2026-11-26T10:00", "minutes": 30},
    )
    assert done.status_code == 302
    assert Visit.objects.get().rep == rep


def test_the_add_page_prefills_the_day_start(client, rep):
    client.force_login(rep)
    response = client.get(reverse("visits:visit_create") + "?date=2026-11-26")
    assert response.status_code == 200
    assert 'value="2026-11-26T08:30"' in response.content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"minutes": 2}, "minutes", "A visit lasts at least 5 minutes."),
        ({"minutes": ""}, "minutes", "Say how long the visit lasts, in minutes."),
        ({"start": ""}, "start", "Choose the day and time the visit starts."),
        ({"customer": ""}, "customer", "Pick the customer to visit."),
    ],
)
def test_add_form_fields_are_validated_with_a_message(client, rep, data, field, message):
    customer = CustomerFactory(owner=rep)
    client.force_login(rep)
    payload = {"rep": rep.pk, "customer": customer.pk, "start": "2026-11-26T10:00", "minutes": 30, **data}
    response = client.post(reverse("visits:visit_create"), payload)
    assert response.context["form"].errors[field] == [message]


def test_an_admin_acts_on_any_reps_visit(client, admin_user, foreign_visit):
    client.force_login(admin_user)
    response = client.post(reverse("visits:visit_confirm", args=[foreign_visit.pk]))
    assert response.status_code == 302
    foreign_visit.refresh_from_db()
    assert foreign_visit.status == "confirmed"


def test_a_manager_without_a_rep_profile_has_a_calendar_with_the_default_hours(client, manager):
    client.force_login(manager)
    response = client.get(calendar_url(week="not-a-date"))
    assert response.status_code == 200
    grid = response.context["grid"]
    assert grid.monday == MONDAY  # an unreadable week falls back to this week
    assert (grid.work_from, grid.work_to, grid.lunch) == (510, 1050, (720, 780))


@pytest.mark.parametrize("start", ["0001-01-01T10:00", "9999-12-31T10:00"])
def test_a_start_out_of_the_calendars_reach_is_refused_not_a_crash(client, rep, start):
    customer = CustomerFactory(owner=rep)
    client.force_login(rep)

    response = client.post(
        reverse("visits:visit_create"), {"rep": rep.pk, "customer": customer.pk, "start": start, "minutes": 30}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["start"] == ["Give a day between the years 1970 and 2199."]
    assert not Visit.objects.exists()
