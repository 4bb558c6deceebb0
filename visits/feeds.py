"""The calendar feed: each user's private ICS URL (a revocable token) and the iCalendar it serves.

Calendar apps (Google Calendar, Outlook, Apple) poll a subscribed URL and match events
by UID, so a visit keeps `visit-<pk>@fieldwise` for life; SEQUENCE and LAST-MODIFIED
move whenever the visit is saved, which tells the app to take the new version.
The output depends only on the rows (DTSTAMP is the last change, not "now"), so two
fetches of an unchanged feed are byte for byte the same.
"""

import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vDuration

from visits.models import CalendarFeed, Visit

PRODID = "-//Fieldwise//Field visits//EN"
UID_DOMAIN = "fieldwise"
# How often subscribers are asked to poll (Google ignores it and polls every few hours).
REFRESH_INTERVAL = timedelta(hours=1)

# Calendar apps know three states; a missed visit did not happen, like a cancelled one.
ICS_STATUS = {
    Visit.Status.PLANNED: "TENTATIVE",
    Visit.Status.CONFIRMED: "CONFIRMED",
    Visit.Status.CHECKED_IN: "CONFIRMED",
    Visit.Status.COMPLETED: "CONFIRMED",
    Visit.Status.CANCELLED: "CANCELLED",
    Visit.Status.MISSED: "CANCELLED",
}


def calendar_feed_token_new() -> str:
    return secrets.token_urlsafe(32)


@transaction.atomic
def calendar_feed_rotate(*, user) -> CalendarFeed:
    """Issue a new feed token for `user` (creating the feed if needed); the old URL stops working."""
    # get_or_create copes with two first clicks at once (the second finds the first's row).
    feed, created = CalendarFeed.objects.select_for_update().get_or_create(
        user=user, defaults={"token": calendar_feed_token_new()}
    )
    if created:
        return feed
    feed.token = calendar_feed_token_new()
    feed.created_at = timezone.now()
    feed.revoked_at = None
    feed.save(update_fields=["token", "created_at", "revoked_at"])
    return feed


@transaction.atomic
def calendar_feed_revoke(*, user) -> CalendarFeed | None:
    """Turn the user's feed off: its URL answers 404 until a new token is issued."""
    feed = CalendarFeed.objects.select_for_update().filter(user=user).first()
    if feed is not None and feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
    return feed


def visit_ics_uid(visit: Visit) -> str:
    return f"visit-{visit.pk}@{UID_DOMAIN}"


def visit_ics_sequence(visit: Visit) -> int:
    """Seconds between creation and the last save: grows with every change, fits in the 32-bit
    SEQUENCE for 68 years, and needs no counter column that every writer would have to bump."""
    return max(0, int((visit.updated_at - visit.created_at).total_seconds()))


def _location(visit: Visit) -> str:
    customer = visit.customer
    return ", ".join(part for part in (customer.address, customer.city, customer.country) if part)


def _description(visit: Visit, url: str) -> str:
    lines = []
    if visit.goal:
        lines.append(_("Goal: %(goal)s") % {"goal": visit.goal})
    lines.append(_("Status: %(status)s") % {"status": visit.get_status_display()})
    lines.append(_("Customer code: %(code)s") % {"code": visit.customer.code})
    if visit.agenda:
        lines.extend(["", visit.agenda])
    lines.extend(["", url])
    return "\n".join(lines)


def visit_ics_event(visit: Visit, *, url: str) -> Event:
    """One VEVENT for a visit (its customer must be loaded); times in UTC."""
    start = visit.planned_start.astimezone(UTC)
    updated = visit.updated_at.astimezone(UTC)
    event = Event()
    event.add("uid", visit_ics_uid(visit))
    event.add("dtstamp", updated)
    event.add("created", visit.created_at.astimezone(UTC))
    event.add("last-modified", updated)
    event.add("sequence", visit_ics_sequence(visit))
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=visit.planned_minutes))
    event.add("summary", visit.customer.name)
    location = _location(visit)
    if location:
        event.add("location", location)
    if visit.customer.latitude is not None and visit.customer.longitude is not None:
        event.add("geo", (visit.customer.latitude, visit.customer.longitude))
    event.add("description", _description(visit, url))
    event.add("status", ICS_STATUS[visit.status])
    event.add("url", url)
    return event


def visits_ics_calendar(*, visits: Iterable[Visit], name: str, url_for: Callable[[Visit], str]) -> bytes:
    """A VCALENDAR of `visits` (customers joined), serialised; `url_for` gives each visit's page."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    calendar.add("refresh-interval", vDuration(REFRESH_INTERVAL), parameters={"VALUE": "DURATION"})
    for visit in visits:
        calendar.add_component(visit_ics_event(visit, url=url_for(visit)))
    return calendar.to_ical()
