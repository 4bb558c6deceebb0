"""The ICS calendar feed and the per-visit .ics, parsed back with icalendar."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from tests.factories import CustomerFactory, UserFactory, VisitFactory
from visits.execution import visit_check_in
from visits.feeds import calendar_feed_revoke, calendar_feed_rotate, visit_ics_sequence
from visits.models import Visit

NOW = timezone.now


def feed_url(feed) -> str:
    return reverse("visits:feed", kwargs={"token": feed.token})


def events(response) -> dict[str, object]:
    calendar = Calendar.from_ical(response.content)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def backdate(visit: Visit, *, created: datetime, updated: datetime) -> Visit:
    """Pretend the row was created/last saved earlier (auto_now fields cannot be passed to save)."""
    Visit.objects.filter(pk=visit.pk).update(created_at=created, updated_at=updated)
    visit.refresh_from_db()
    return visit


@pytest.fixture
def customer(rep):
    return CustomerFactory(owner=rep, name="Café de la Gare", address="3 rue de Lyon", city="Paris", country="France")


@pytest.fixture
def rep_visits(rep, customer):
    now = NOW()
    inside = {
        "past": VisitFactory(
            customer=customer,
            planned_start=now - timedelta(days=29),
            status="completed",
            checked_in_at=now - timedelta(days=29),
            checked_out_at=now - timedelta(days=29),
        ),
        "planned": VisitFactory(
            customer=customer,
            planned_start=now + timedelta(days=2),
            status="planned",
            goal="Present the new range",
            planned_minutes=50,
        ),
        "confirmed": VisitFactory(customer=customer, planned_start=now + timedelta(days=59), status="confirmed"),
        "missed": VisitFactory(customer=customer, planned_start=now - timedelta(days=3), status="missed"),
    }
    outside = {
        "too old": VisitFactory(customer=customer, planned_start=now - timedelta(days=31)),
        "too far": VisitFactory(customer=customer, planned_start=now + timedelta(days=61)),
        "cancelled": VisitFactory(customer=customer, planned_start=now + timedelta(days=1), status="cancelled"),
    }
    return inside, outside


def test_feed_has_the_reps_visits_in_the_window_and_nothing_else(client, rep, other_rep, manager, rep_visits):
    inside, outside = rep_visits
    VisitFactory(customer__owner=other_rep, planned_start=NOW() + timedelta(days=1))
    VisitFactory(customer__owner=manager, planned_start=NOW() + timedelta(days=1))
    feed = calendar_feed_rotate(user=rep)

    response = client.get(feed_url(feed))  # no login: the token is the credential

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["PRODID"]) == "-//Fieldwise//Field visits//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert set(events(response)) == {f"visit-{visit.pk}@fieldwise" for visit in inside.values()}


def test_event_fields(client, rep, rep_visits):
    visit = rep_visits[0]["planned"]
    response = client.get(feed_url(calendar_feed_rotate(user=rep)))

    event = events(response)[f"visit-{visit.pk}@fieldwise"]

    assert str(event["SUMMARY"]) == "Café de la Gare"
    assert str(event["LOCATION"]) == "3 rue de Lyon, Paris, France"
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")
    assert start.utcoffset() == timedelta(0)
    assert start == visit.planned_start.replace(microsecond=0)
    assert end - start == timedelta(minutes=50)
    assert str(event["STATUS"]) == "TENTATIVE"
    description = str(event["DESCRIPTION"])
    assert "Goal: Present the new range" in description
    assert "Status: planned" in description
    assert f"http://testserver/visits/{visit.pk}/" in description
    assert event.decoded("LAST-MODIFIED") == visit.updated_at.replace(microsecond=0)
    assert int(event["SEQUENCE"]) == visit_ics_sequence(visit)


def test_statuses_map_to_calendar_states(client, rep, rep_visits):
    inside, _outside = rep_visits
    got = events(client.get(feed_url(calendar_feed_rotate(user=rep))))
    states = {name: str(got[f"visit-{visit.pk}@fieldwise"]["STATUS"]) for name, visit in inside.items()}
    assert states == {"past": "CONFIRMED", "planned": "TENTATIVE", "confirmed": "CONFIRMED", "missed": "CANCELLED"}


def test_times_are_utc_whatever_the_site_time_zone(client, rep, customer, settings):
    settings.TIME_ZONE = "Europe/Paris"
    visit = VisitFactory(customer=customer, planned_start=datetime(2030, 1, 1, 9, 0, tzinfo=UTC))
    client.force_login(rep)
    body = client.get(reverse("visits:visit_ics", args=[visit.pk])).content
    assert b"DTSTART:20300101T090000Z" in body
    assert b"DTEND:20300101T094500Z" in body


def test_uids_and_bytes_are_stable_across_fetches_and_the_uid_survives_a_change(client, rep, rep_visits):
    visit = rep_visits[0]["planned"]
    earlier = NOW() - timedelta(days=3)
    visit = backdate(visit, created=earlier, updated=earlier + timedelta(minutes=5))
    url = feed_url(calendar_feed_rotate(user=rep))

    first, second = client.get(url), client.get(url)
    assert first.content == second.content  # nothing changed: the very same calendar
    before = events(first)[f"visit-{visit.pk}@fieldwise"]
    assert int(before["SEQUENCE"]) == 300

    # The rep confirms it (any save): same UID, a higher SEQUENCE and a later LAST-MODIFIED.
    visit.status = Visit.Status.CONFIRMED
    visit.save()
    after = events(client.get(url))[f"visit-{visit.pk}@fieldwise"]
    assert set(events(client.get(url))) == set(events(first))
    assert str(after["STATUS"]) == "CONFIRMED"
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after.decoded("LAST-MODIFIED") > before.decoded("LAST-MODIFIED")


def test_a_check_in_moves_the_sequence(client, rep, customer):
    visit = VisitFactory(customer=customer, planned_start=NOW(), status="confirmed")
    earlier = NOW() - timedelta(days=1)
    visit = backdate(visit, created=earlier, updated=earlier)
    assert visit_ics_sequence(visit) == 0
    visit = visit_check_in(visit=visit, by=rep)
    assert visit_ics_sequence(visit) >= 86_400


def test_revoked_rotated_and_unknown_tokens_are_404(client, rep, rep_visits):
    feed = calendar_feed_rotate(user=rep)
    old_url = feed_url(feed)
    assert client.get(old_url).status_code == 200

    new_url = feed_url(calendar_feed_rotate(user=rep))
    assert client.get(old_url).status_code == 404
    assert client.get(new_url).status_code == 200

    calendar_feed_revoke(user=rep)
    assert client.get(new_url).status_code == 404
    assert client.get("/calendar/feed/" + "x" * 43 + ".ics").status_code == 404
    assert client.get("/calendar/feed/short.ics").status_code == 404


def test_a_deactivated_users_feed_is_404(client, rep, rep_visits):
    url = feed_url(calendar_feed_rotate(user=rep))
    rep.is_active = False
    rep.save()
    assert client.get(url).status_code == 404


def test_feed_query_count_does_not_grow_with_visits(client, rep, customer, django_assert_max_num_queries):
    for day in range(40):
        VisitFactory(customer=customer, planned_start=NOW() + timedelta(days=day % 50, hours=day % 7))
    url = feed_url(calendar_feed_rotate(user=rep))
    with django_assert_max_num_queries(2):  # the token (with its user), the visits (with their customers)
        response = client.get(url)
    assert len(events(response)) == 40


def test_visit_ics_download_is_scoped(client, rep, teammate, manager, other_rep, rep_visits):
    visit = rep_visits[0]["confirmed"]
    url = reverse("visits:visit_ics", args=[visit.pk])

    client.force_login(rep)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="visit-{visit.pk}.ics"'
    assert list(events(response)) == [f"visit-{visit.pk}@fieldwise"]

    for outsider in (teammate, other_rep):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_a_cancelled_visit_downloads_as_cancelled(client, rep, rep_visits):
    visit = rep_visits[1]["cancelled"]
    client.force_login(rep)
    event = events(client.get(reverse("visits:visit_ics", args=[visit.pk])))[f"visit-{visit.pk}@fieldwise"]
    assert str(event["STATUS"]) == "CANCELLED"


def test_a_managers_feed_holds_only_their_own_visits(client, rep, manager, rep_visits):
    own = VisitFactory(customer__owner=UserFactory(), rep=manager, planned_start=NOW() + timedelta(days=1))
    response = client.get(feed_url(calendar_feed_rotate(user=manager)))
    assert set(events(response)) == {f"visit-{own.pk}@fieldwise"}
