"""A person's changes to the plan: move, confirm, cancel, add; every rule refused with its message."""

import threading
import time as clock
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.utils import timezone

from tests.factories import CustomerFactory, UserFactory, VisitFactory
from visits import scheduling
from visits.models import Visit
from visits.services import rep_plan_swap

UTC = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
MONDAY = date(2026, 11, 23)
TUESDAY = MONDAY + timedelta(days=1)
SATURDAY = MONDAY + timedelta(days=5)
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday morning; TIME_ZONE is UTC in the test settings


def at(day: date, hour: int, minute: int = 0, zone=UTC) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


@pytest.fixture
def frozen_now(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def acme(rep):
    return CustomerFactory(owner=rep, name="Acme Tools")


@pytest.fixture
def globex(rep):
    return CustomerFactory(owner=rep, name="Globex")


def planned(customer, start: datetime, minutes: int = 45, **extra) -> Visit:
    extra.setdefault("status", Visit.Status.PLANNED)
    extra.setdefault("origin", Visit.Origin.PLANNER)
    return VisitFactory(customer=customer, rep=customer.owner, planned_start=start, planned_minutes=minutes, **extra)


def codes(exc: ValidationError) -> list[str]:
    return [error.code for error in exc.error_list]


# --- move -----------------------------------------------------------------------------------


def test_move_sets_the_new_time_and_confirms_so_the_planner_keeps_it(frozen_now, rep, acme, globex):
    moved = planned(acme, at(TUESDAY, 10))
    untouched = planned(globex, at(TUESDAY, 15))

    result = scheduling.visit_move(visit=moved, start=at(TUESDAY, 14), by=rep)

    moved.refresh_from_db()
    assert result.pk == moved.pk
    assert (moved.planned_start, moved.status, moved.planned_minutes) == (at(TUESDAY, 14), "confirmed", 45)
    # The nightly swap replaces unconfirmed planner visits only: the moved one stays.
    rep_plan_swap(rep_id=rep.pk, days=[MONDAY, TUESDAY], as_of=NOW, visits=[])
    assert list(Visit.objects.filter(rep=rep).values_list("pk", flat=True)) == [moved.pk]
    assert not Visit.objects.filter(pk=untouched.pk).exists()


def test_move_onto_another_visit_is_refused_naming_it(frozen_now, rep, acme, globex):
    planned(acme, at(TUESDAY, 14), status=Visit.Status.CONFIRMED)
    visit = planned(globex, at(TUESDAY, 9))

    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 14, 30), by=rep)

    assert codes(refused.value) == ["overlap"]
    assert refused.value.messages == ["It overlaps the visit to Acme Tools at Tue 24 Nov 14:00–14:45 (confirmed)."]
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(TUESDAY, 9), "planned")


def test_back_to_back_is_not_an_overlap_and_cancelled_or_missed_visits_free_their_slot(frozen_now, rep, acme, globex):
    planned(acme, at(TUESDAY, 14))  # 14:00-14:45
    planned(acme, at(TUESDAY, 15), status=Visit.Status.CANCELLED)
    planned(acme, at(TUESDAY, 16), status=Visit.Status.MISSED)
    visit = planned(globex, at(TUESDAY, 9))

    scheduling.visit_move(visit=visit, start=at(TUESDAY, 14, 45), by=rep)
    scheduling.visit_move(visit=visit, start=at(TUESDAY, 15), by=rep)
    scheduling.visit_move(visit=visit, start=at(TUESDAY, 16), by=rep)
    visit.refresh_from_db()
    assert visit.planned_start == at(TUESDAY, 16)


def test_a_visit_that_started_earlier_and_runs_into_the_slot_overlaps(frozen_now, rep, acme, globex):
    planned(acme, at(TUESDAY, 13), minutes=120)  # 13:00-15:00
    visit = planned(globex, at(TUESDAY, 9))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 14, 30), by=rep)
    assert codes(refused.value) == ["overlap"]
    assert "13:00–15:00" in refused.value.messages[0]


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (at(TUESDAY, 8), "08:00–08:45 is outside working hours (08:30–17:30)."),
        (at(TUESDAY, 17), "17:00–17:45 is outside working hours (08:30–17:30)."),
    ],
)
def test_move_outside_working_hours_is_refused(frozen_now, rep, acme, start, expected):
    visit = planned(acme, at(TUESDAY, 9))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=start, by=rep)
    assert codes(refused.value) == ["outside_hours"]
    assert refused.value.messages == [expected]


def test_the_last_slot_of_the_day_fits(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    scheduling.visit_move(visit=visit, start=at(TUESDAY, 16, 45), by=rep)  # ends 17:30 sharp
    visit.refresh_from_db()
    assert visit.planned_start == at(TUESDAY, 16, 45)


def test_move_into_lunch_is_refused(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 11, 30), by=rep)
    assert codes(refused.value) == ["lunch"]
    assert refused.value.messages == ["11:30–12:15 overlaps the lunch break (12:00–13:00)."]
    # Right after lunch is fine.
    scheduling.visit_move(visit=visit, start=at(TUESDAY, 13), by=rep)


def test_move_to_a_day_off_is_refused(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(SATURDAY, 10), by=rep)
    assert codes(refused.value) == ["non_working_day"]
    assert refused.value.messages == [
        "Saturday is not a working day (working days: Monday, Tuesday, Wednesday, Thursday, Friday)."
    ]


def test_a_custom_working_pattern_applies(frozen_now, rep, acme):
    profile = rep.rep_profile
    profile.working_days = 0b0100000  # Saturday only
    profile.day_start, profile.day_end = time(10, 0), time(14, 0)
    profile.lunch_start, profile.lunch_minutes = time(12, 0), 0
    profile.save()
    visit = planned(acme, at(TUESDAY, 9))
    scheduling.visit_move(visit=visit, start=at(SATURDAY, 12), by=rep)  # no lunch break configured
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(SATURDAY, 13, 30), by=rep)
    assert refused.value.messages == ["13:30–14:15 is outside working hours (10:00–14:00)."]


def test_move_into_the_past_is_refused(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(MONDAY, 6), by=rep)
    # 06:00 is also before the working day: both rules are named.
    assert codes(refused.value) == ["past", "outside_hours"]
    assert refused.value.messages[0] == "Mon 23 Nov 06:00 is in the past."


def test_every_broken_rule_is_listed(frozen_now, rep, acme, globex):
    planned(acme, at(TUESDAY, 13))  # 13:00-13:45
    visit = planned(globex, at(TUESDAY, 9), minutes=90)
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 12, 0), by=rep)  # 12:00-13:30
    assert codes(refused.value) == ["lunch", "overlap"]


@pytest.mark.parametrize("status", ["checked_in", "completed", "cancelled", "missed"])
def test_only_planned_or_confirmed_visits_can_be_moved_or_cancelled(frozen_now, rep, acme, status):
    extra = {"checked_in_at": NOW} if status in ("checked_in", "completed") else {}
    if status == "completed":
        extra["checked_out_at"] = NOW
    visit = planned(acme, at(MONDAY, 9), status=status, **extra)
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 10), by=rep)
    assert codes(refused.value) == ["status"]
    assert refused.value.messages[0].startswith("Only planned or confirmed visits can be moved; this one is ")
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_cancel(visit=visit, reason="no time", by=rep)
    assert codes(refused.value) == ["status"]
    visit.refresh_from_db()
    assert visit.status == status


def test_the_service_rereads_the_visit_under_the_lock(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    stale = Visit.objects.get(pk=visit.pk)
    Visit.objects.filter(pk=visit.pk).update(status=Visit.Status.CANCELLED)  # someone else, meanwhile
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=stale, start=at(TUESDAY, 10), by=rep)
    assert codes(refused.value) == ["status"]


def test_a_visit_replaced_by_a_new_plan_is_reported_gone(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    Visit.objects.filter(pk=visit.pk).delete()
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 10), by=rep)
    assert codes(refused.value) == ["gone"]


def test_working_hours_are_local_wall_clock_time(frozen_now, settings, rep, acme):
    settings.TIME_ZONE = "Europe/Paris"
    visit = planned(acme, at(TUESDAY, 9, zone=PARIS))
    scheduling.visit_move(visit=visit, start=at(TUESDAY, 8, 30, zone=PARIS), by=rep)  # 07:30 UTC
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 8, 15, zone=PARIS), by=rep)
    assert refused.value.messages == ["08:15–09:00 is outside working hours (08:30–17:30)."]


# --- who may ---------------------------------------------------------------------------------


def test_a_manager_moves_a_team_reps_visit(frozen_now, manager, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    scheduling.visit_move(visit=visit, start=at(TUESDAY, 10), by=manager)
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(TUESDAY, 10), "confirmed")


def test_nobody_changes_a_visit_outside_their_scope(frozen_now, rep, other_rep):
    visit = planned(CustomerFactory(owner=other_rep), at(TUESDAY, 9))
    with pytest.raises(PermissionDenied):
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 10), by=rep)
    with pytest.raises(PermissionDenied):
        scheduling.visit_confirm(visit=visit, by=rep)
    with pytest.raises(PermissionDenied):
        scheduling.visit_cancel(visit=visit, reason="not mine", by=rep)
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(TUESDAY, 9), "planned")


# --- confirm and cancel ----------------------------------------------------------------------


def test_confirm_keeps_the_time_and_only_applies_to_planned_visits(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    scheduling.visit_confirm(visit=visit, by=rep)
    visit.refresh_from_db()
    assert (visit.planned_start, visit.status) == (at(TUESDAY, 9), "confirmed")
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_confirm(visit=visit, by=rep)
    assert refused.value.messages == ["Only planned visits can be confirmed; this one is confirmed."]


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_needs_a_reason(frozen_now, rep, acme, reason):
    visit = planned(acme, at(TUESDAY, 9))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_cancel(visit=visit, reason=reason, by=rep)
    assert refused.value.messages == ["Give a reason for cancelling the visit."]
    visit.refresh_from_db()
    assert (visit.status, visit.cancelled_at, visit.cancel_reason) == ("planned", None, "")


def test_cancel_records_when_and_why_and_frees_the_slot(frozen_now, rep, acme, globex):
    visit = planned(acme, at(TUESDAY, 9), status=Visit.Status.CONFIRMED)
    scheduling.visit_cancel(visit=visit, reason="  Customer closed for inventory  ", by=rep)
    visit.refresh_from_db()
    assert (visit.status, visit.cancelled_at, visit.cancel_reason) == (
        "cancelled",
        NOW,
        "Customer closed for inventory",
    )
    added = scheduling.visit_create_manual(rep=rep, customer=globex, start=at(TUESDAY, 9), minutes=45, goal="", by=rep)
    assert added.planned_start == at(TUESDAY, 9)


# --- manual visits ---------------------------------------------------------------------------


def test_create_manual_books_a_confirmed_manual_visit(frozen_now, rep, acme):
    visit = scheduling.visit_create_manual(
        rep=rep, customer=acme, start=at(TUESDAY, 10, 15), minutes=30, goal="  Demo the new range ", by=rep
    )
    visit.refresh_from_db()
    assert (visit.rep, visit.customer, visit.planned_start, visit.planned_minutes) == (
        rep,
        acme,
        at(TUESDAY, 10, 15),
        30,
    )
    assert (visit.status, visit.origin, visit.goal, visit.plan_run, visit.plan_reason) == (
        "confirmed",
        "manual",
        "Demo the new range",
        None,
        None,
    )
    # The nightly swap keeps it.
    rep_plan_swap(rep_id=rep.pk, days=[TUESDAY], as_of=NOW, visits=[])
    assert Visit.objects.filter(pk=visit.pk).exists()


def test_create_manual_checks_the_same_rules(frozen_now, rep, acme, globex):
    planned(acme, at(TUESDAY, 10))
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_create_manual(rep=rep, customer=globex, start=at(TUESDAY, 10, 30), minutes=30, goal="", by=rep)
    assert codes(refused.value) == ["overlap"]
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_create_manual(rep=rep, customer=globex, start=at(SATURDAY, 10), minutes=30, goal="", by=rep)
    assert codes(refused.value) == ["non_working_day"]
    assert Visit.objects.filter(customer=globex).count() == 0


def test_create_manual_for_a_teammate_by_their_manager_and_only_to_their_customers(
    frozen_now, manager, rep, teammate, acme
):
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_create_manual(
            rep=teammate, customer=acme, start=at(TUESDAY, 10), minutes=30, goal="", by=manager
        )
    assert codes(refused.value) == ["customer_scope"]
    theirs = CustomerFactory(owner=teammate, name="Initech")
    visit = scheduling.visit_create_manual(
        rep=teammate, customer=theirs, start=at(TUESDAY, 10), minutes=30, goal="", by=manager
    )
    assert (visit.rep, visit.status) == (teammate, "confirmed")


def test_create_manual_outside_the_scope_is_denied(frozen_now, rep, other_rep, acme):
    with pytest.raises(PermissionDenied):
        scheduling.visit_create_manual(rep=other_rep, customer=acme, start=at(TUESDAY, 10), minutes=30, goal="", by=rep)
    with pytest.raises(PermissionDenied):
        scheduling.visit_create_manual(
            rep=rep, customer=CustomerFactory(owner=other_rep), start=at(TUESDAY, 10), minutes=30, goal="", by=rep
        )
    assert Visit.objects.count() == 0


def test_someone_without_a_rep_profile_gets_the_default_working_pattern(frozen_now, manager):
    customer = CustomerFactory(owner=manager, name="Umbrella")
    visit = scheduling.visit_create_manual(
        rep=manager, customer=customer, start=at(TUESDAY, 9), minutes=60, goal="", by=manager
    )
    assert visit.status == "confirmed"
    with pytest.raises(ValidationError) as refused:
        scheduling.visit_move(visit=visit, start=at(TUESDAY, 17), by=manager)
    assert refused.value.messages == ["17:00–18:00 is outside working hours (08:30–17:30)."]


def test_naive_datetimes_are_a_programming_error(frozen_now, rep, acme):
    visit = planned(acme, at(TUESDAY, 9))
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduling.visit_move(visit=visit, start=datetime(2026, 11, 24, 10, 0), by=rep)  # noqa: DTZ001


# --- concurrency -----------------------------------------------------------------------------


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="row locks need PostgreSQL; SQLite serialises whole transactions"
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_moves_into_one_slot_cannot_both_pass(monkeypatch):
    # given two visits of one rep and two people moving them to overlapping times at once
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    rep = UserFactory(username="rep_race", role="Rep")
    from tests.factories import RepProfileFactory

    RepProfileFactory(user=rep)
    first = planned(CustomerFactory(owner=rep, name="First"), at(TUESDAY, 9))
    second = planned(CustomerFactory(owner=rep, name="Second"), at(TUESDAY, 15))
    first_moved, release = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def move_first():
        try:
            with transaction.atomic():
                scheduling.visit_move(visit=first, start=at(TUESDAY, 11), by=rep)
                first_moved.set()
                release.wait(timeout=20)  # hold the rep's lock until the other move is waiting on it
            outcomes["first"] = "moved"
        finally:
            connections.close_all()

    def move_second():
        try:
            first_moved.wait(timeout=20)
            scheduling.visit_move(visit=second, start=at(TUESDAY, 11, 15), by=rep)
            outcomes["second"] = "moved"
        except ValidationError as exc:
            outcomes["second"] = " ".join(exc.messages)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move_first), threading.Thread(target=move_second)]
    for thread in threads:
        thread.start()
    try:
        deadline = clock.monotonic() + 20
        while _lock_waiters() < 1:  # the second move queues behind the first one's lock
            assert clock.monotonic() < deadline, "the second move never waited for the rep's lock"
            clock.sleep(0.05)
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)

    # then the second move, run after the first committed, saw it and was refused
    assert outcomes == {
        "first": "moved",
        "second": "It overlaps the visit to First at Tue 24 Nov 11:00–11:45 (confirmed).",
    }
    assert Visit.objects.get(pk=second.pk).planned_start == at(TUESDAY, 15)
