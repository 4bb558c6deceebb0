"""Visit execution services: check-in (verified/outside/unverified), report, check-out, follow-ups."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from crm.models import Need
from tests.factories import CustomerFactory, FollowUpFactory, VisitFactory
from visits.execution import (
    follow_up_mark_done,
    follow_up_reopen,
    visit_check_in,
    visit_check_out,
    visit_report_file,
    visit_report_file_and_check_out,
)
from visits.models import FollowUp, Visit

UTC = ZoneInfo("UTC")
# Customer at Paris, Notre-Dame; a thousandth of a degree of latitude is 111.195 m
# (R = 6371.0088 km: 6371008.8 * 0.001 * pi / 180 = 111.1951).
HOME = (48.8530, 2.3499)
PLANNED = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # a Tuesday; TIME_ZONE is UTC in tests
ARRIVAL = PLANNED + timedelta(minutes=4)


@pytest.fixture
def visit(rep):
    customer = CustomerFactory(owner=rep, latitude=HOME[0], longitude=HOME[1])
    return VisitFactory(customer=customer, planned_start=PLANNED, status=Visit.Status.CONFIRMED, goal="Renewal")


def checked_in(visit, by, **kwargs):
    return visit_check_in(visit=visit, by=by, at=ARRIVAL, **kwargs)


def report(**overrides):
    data = {
        "outcome": Visit.Outcome.FOLLOW_UP,
        "notes": "Talked about the renewal and two new sites.",
        "actual_satisfaction": 4,
        "expected_satisfaction": 3,
        "next_step": "Send the quote",
        "needs": [("Faster delivery", True), ("Training for new staff", False), ("Invoice by site", True)],
        "follow_ups": [("Send the quote", date(2026, 3, 12)), ("Call the buyer", date(2026, 3, 10))],
    }
    data.update(overrides)
    return data


# -- check-in ---------------------------------------------------------------------------------


def test_check_in_within_radius_is_verified_with_the_real_distance(visit, rep):
    result = checked_in(visit, rep, latitude=HOME[0] + 0.001, longitude=HOME[1])

    result.refresh_from_db()
    assert result.status == Visit.Status.CHECKED_IN
    assert result.checked_in_at == ARRIVAL
    assert result.check_in_result == Visit.CheckInResult.VERIFIED
    assert result.check_in_distance_m == pytest.approx(111.195, abs=0.001)
    assert (result.check_in_latitude, result.check_in_longitude) == pytest.approx((HOME[0] + 0.001, HOME[1]))


def test_check_in_farther_than_the_radius_is_outside(visit, rep):
    result = checked_in(visit, rep, latitude=HOME[0] + 0.02, longitude=HOME[1])

    assert result.check_in_result == Visit.CheckInResult.OUTSIDE
    assert result.check_in_distance_m == pytest.approx(2223.902, abs=0.001)


def test_check_in_just_past_300_m_is_outside_and_just_inside_is_verified(visit, rep, teammate):
    # 0.0027 deg = 300.227 m (outside); 0.0026 deg = 289.107 m (verified).
    outside = checked_in(visit, rep, latitude=HOME[0] + 0.0027, longitude=HOME[1])
    assert (outside.check_in_result, round(outside.check_in_distance_m, 3)) == ("outside", 300.227)

    other = VisitFactory(
        customer__owner=teammate, customer__latitude=HOME[0], customer__longitude=HOME[1], planned_start=PLANNED
    )
    inside = visit_check_in(visit=other, by=teammate, latitude=HOME[0] + 0.0026, longitude=HOME[1], at=ARRIVAL)
    assert (inside.check_in_result, round(inside.check_in_distance_m, 3)) == ("verified", 289.107)


def test_the_radius_is_a_setting(visit, rep, settings):
    settings.FIELDWISE_CHECKIN_RADIUS_M = 100
    result = checked_in(visit, rep, latitude=HOME[0] + 0.001, longitude=HOME[1])
    assert result.check_in_result == Visit.CheckInResult.OUTSIDE


def test_check_in_without_position_is_unverified(visit, rep):
    result = checked_in(visit, rep)

    result.refresh_from_db()
    assert result.status == Visit.Status.CHECKED_IN
    assert result.check_in_result == Visit.CheckInResult.UNVERIFIED
    assert result.check_in_distance_m is None
    assert result.check_in_latitude is None


def test_check_in_at_a_customer_without_coordinates_is_unverified_but_keeps_the_position(rep):
    visit = VisitFactory(customer__owner=rep, customer__latitude=None, customer__longitude=None, planned_start=PLANNED)

    result = checked_in(visit, rep, latitude=HOME[0], longitude=HOME[1])

    assert result.check_in_result == Visit.CheckInResult.UNVERIFIED
    assert result.check_in_distance_m is None
    assert result.check_in_latitude == HOME[0]


@pytest.mark.parametrize("status", ["checked_in", "completed", "cancelled", "missed"])
def test_check_in_is_refused_unless_planned_or_confirmed(visit, rep, status):
    Visit.objects.filter(pk=visit.pk).update(
        status=status,
        checked_in_at=PLANNED if status in ("checked_in", "completed") else None,
        checked_out_at=PLANNED + timedelta(minutes=30) if status == "completed" else None,
    )
    with pytest.raises(ValidationError) as error:
        checked_in(visit, rep)
    assert set(error.value.message_dict) == {"status"}
    assert Visit.objects.get(pk=visit.pk).status == status


def test_check_in_on_another_day_is_refused(visit, rep):
    with pytest.raises(ValidationError) as error:
        visit_check_in(visit=visit, by=rep, at=PLANNED - timedelta(days=1))
    assert set(error.value.message_dict) == {"planned_start"}
    assert "2026-03-10" in error.value.message_dict["planned_start"][0]


@pytest.mark.parametrize(
    ("latitude", "longitude", "fields"),
    [(48.85, None, {"longitude"}), (None, 2.35, {"latitude"}), (91.0, 2.35, {"latitude"}), (48.8, 181, {"longitude"})],
)
def test_check_in_with_a_broken_position_names_the_field(visit, rep, latitude, longitude, fields):
    with pytest.raises(ValidationError) as error:
        checked_in(visit, rep, latitude=latitude, longitude=longitude)
    assert set(error.value.message_dict) == fields
    assert Visit.objects.get(pk=visit.pk).status == Visit.Status.CONFIRMED


def test_another_rep_cannot_check_in(visit, other_rep, teammate):
    for outsider in (other_rep, teammate):
        with pytest.raises(PermissionDenied):
            checked_in(visit, outsider)


def test_a_manager_of_the_team_may_check_in_for_the_rep(visit, manager):
    assert checked_in(visit, manager).status == Visit.Status.CHECKED_IN


# -- report -----------------------------------------------------------------------------------


def test_report_creates_the_needs_and_follow_ups(visit, rep):
    checked_in(visit, rep)
    filed_at = ARRIVAL + timedelta(minutes=40)

    result = visit_report_file(visit=visit, by=rep, data=report(), at=filed_at)

    result.refresh_from_db()
    assert result.report == "Talked about the renewal and two new sites."
    assert (result.outcome, result.next_step) == ("follow_up", "Send the quote")
    assert (result.actual_satisfaction, result.expected_satisfaction) == (4, 3)
    assert (result.needs_raised, result.needs_satisfied) == (3, 2)
    assert result.report_filed_at == filed_at
    assert result.status == Visit.Status.CHECKED_IN  # the report alone does not check out
    needs = list(Need.objects.filter(visit=visit).order_by("id").values_list("description", "satisfied", "customer"))
    assert needs == [
        ("Faster delivery", True, visit.customer_id),
        ("Training for new staff", False, visit.customer_id),
        ("Invoice by site", True, visit.customer_id),
    ]
    satisfied_at = set(Need.objects.filter(visit=visit, satisfied=True).values_list("satisfied_at", flat=True))
    assert satisfied_at == {filed_at}
    assert set(Need.objects.filter(visit=visit).values_list("raised_at", flat=True)) == {ARRIVAL}
    follow_ups = list(FollowUp.objects.filter(visit=visit).order_by("due_date").values_list("title", "due_date"))
    assert follow_ups == [("Call the buyer", date(2026, 3, 10)), ("Send the quote", date(2026, 3, 12))]


def test_follow_ups_go_to_the_visits_rep_when_a_manager_files_the_report(visit, rep, manager):
    checked_in(visit, rep)
    visit_report_file(visit=visit, by=manager, data=report(), at=ARRIVAL)
    assert set(FollowUp.objects.filter(visit=visit).values_list("assignee", flat=True)) == {rep.pk}


def test_report_before_check_in_is_refused(visit, rep):
    with pytest.raises(ValidationError) as error:
        visit_report_file(visit=visit, by=rep, data=report(), at=ARRIVAL)
    assert set(error.value.message_dict) == {"status"}
    assert not Need.objects.filter(visit=visit).exists()


def test_a_report_is_filed_once(visit, rep):
    checked_in(visit, rep)
    visit_report_file(visit=visit, by=rep, data=report(), at=ARRIVAL)
    with pytest.raises(ValidationError) as error:
        visit_report_file(visit=visit, by=rep, data=report(), at=ARRIVAL)
    assert set(error.value.message_dict) == {"status"}
    assert Need.objects.filter(visit=visit).count() == 3
    assert FollowUp.objects.filter(visit=visit).count() == 2


@pytest.mark.parametrize("value", [0, 6, -1, "4", True, 4.5])
def test_satisfaction_outside_1_to_5_is_refused(visit, rep, value):
    checked_in(visit, rep)
    with pytest.raises(ValidationError) as error:
        visit_report_file(visit=visit, by=rep, data=report(actual_satisfaction=value), at=ARRIVAL)
    assert set(error.value.message_dict) == {"actual_satisfaction"}


@pytest.mark.parametrize("value", [1, 5])
def test_satisfaction_bounds_1_and_5_are_accepted(visit, rep, value):
    checked_in(visit, rep)
    result = visit_report_file(
        visit=visit, by=rep, data=report(actual_satisfaction=value, expected_satisfaction=value), at=ARRIVAL
    )
    assert (result.actual_satisfaction, result.expected_satisfaction) == (value, value)


def test_report_errors_name_every_wrong_field(visit, rep):
    checked_in(visit, rep)
    data = report(
        outcome="maybe",
        notes="",
        expected_satisfaction=None,
        needs=[("", True)],
        follow_ups=[("", date(2026, 3, 11)), ("Too late", date(2026, 3, 9))],
    )
    with pytest.raises(ValidationError) as error:
        visit_report_file(visit=visit, by=rep, data=data, at=ARRIVAL)
    assert set(error.value.message_dict) == {"outcome", "notes", "expected_satisfaction", "needs", "follow_ups"}
    assert len(error.value.message_dict["follow_ups"]) == 2  # the blank title and the past date
    assert Visit.objects.get(pk=visit.pk).report_filed_at is None


def test_customer_absent_needs_no_notes_nor_satisfaction(visit, rep):
    checked_in(visit, rep)
    data = report(
        outcome="absent", notes="", actual_satisfaction=None, expected_satisfaction=None, needs=[], follow_ups=[]
    )
    result = visit_report_file(visit=visit, by=rep, data=data, at=ARRIVAL)
    assert (result.outcome, result.actual_satisfaction, result.needs_raised) == ("absent", None, 0)


def test_follow_up_needed_wants_a_next_step_or_a_task(visit, rep):
    checked_in(visit, rep)
    with pytest.raises(ValidationError) as error:
        visit_report_file(visit=visit, by=rep, data=report(next_step="", follow_ups=[]), at=ARRIVAL)
    assert set(error.value.message_dict) == {"next_step"}


# -- check-out --------------------------------------------------------------------------------


def test_check_out_completes_the_visit(visit, rep):
    checked_in(visit, rep)
    out = ARRIVAL + timedelta(minutes=50)

    result = visit_check_out(visit=visit, by=rep, latitude=HOME[0], longitude=HOME[1], at=out)

    result.refresh_from_db()
    assert (result.status, result.checked_out_at) == (Visit.Status.COMPLETED, out)
    assert (result.check_out_latitude, result.check_out_longitude) == HOME


def test_check_out_before_check_in_is_refused(visit, rep):
    with pytest.raises(ValidationError) as error:
        visit_check_out(visit=visit, by=rep, at=ARRIVAL)
    assert set(error.value.message_dict) == {"status"}


def test_check_out_earlier_than_the_check_in_is_refused(visit, rep):
    checked_in(visit, rep)
    with pytest.raises(ValidationError) as error:
        visit_check_out(visit=visit, by=rep, at=ARRIVAL - timedelta(minutes=1))
    assert set(error.value.message_dict) == {"checked_out_at"}


def test_a_report_can_follow_the_check_out(visit, rep):
    checked_in(visit, rep)
    visit_check_out(visit=visit, by=rep, at=ARRIVAL + timedelta(minutes=30))
    result = visit_report_file(visit=visit, by=rep, data=report(), at=ARRIVAL + timedelta(hours=6))
    assert (result.status, result.needs_raised) == (Visit.Status.COMPLETED, 3)


def test_report_and_check_out_together_are_all_or_nothing(visit, rep):
    checked_in(visit, rep)
    # The report is fine, the check-out position is not: nothing may be kept.
    with pytest.raises(ValidationError):
        visit_report_file_and_check_out(visit=visit, by=rep, data=report(), latitude=95.0, longitude=2.0, at=ARRIVAL)
    visit.refresh_from_db()
    assert (visit.status, visit.report_filed_at) == (Visit.Status.CHECKED_IN, None)
    assert not Need.objects.filter(visit=visit).exists()
    assert not FollowUp.objects.filter(visit=visit).exists()

    result = visit_report_file_and_check_out(visit=visit, by=rep, data=report(), at=ARRIVAL + timedelta(minutes=45))
    assert (result.status, result.checked_out_at) == (Visit.Status.COMPLETED, ARRIVAL + timedelta(minutes=45))


# -- follow-ups and invariants ----------------------------------------------------------------


def test_follow_up_done_and_reopen(rep, other_rep):
    follow_up = FollowUpFactory(visit__customer__owner=rep)
    done = follow_up_mark_done(follow_up=follow_up, by=rep, at=ARRIVAL)
    assert done.done_at == ARRIVAL
    # A second click changes nothing.
    assert follow_up_mark_done(follow_up=follow_up, by=rep, at=ARRIVAL + timedelta(hours=1)).done_at == ARRIVAL
    with pytest.raises(PermissionDenied):
        follow_up_reopen(follow_up=follow_up, by=other_rep)
    assert follow_up_reopen(follow_up=follow_up, by=rep).done_at is None
    assert FollowUp.objects.get(pk=follow_up.pk).done_at is None


@pytest.mark.parametrize(
    "fields",
    [
        {"check_in_result": "verified", "check_in_distance_m": 10.0},  # a result without a check-in time
        {"checked_in_at": PLANNED, "check_in_result": "verified"},  # verified without a distance
        {"checked_in_at": PLANNED, "check_in_result": "unverified", "check_in_distance_m": 5.0},
        {"checked_in_at": PLANNED, "check_in_result": "outside", "check_in_distance_m": -1.0},
        {"checked_in_at": PLANNED, "check_in_result": "nearby"},
        {"outcome": "great"},
    ],
)
def test_the_database_refuses_inconsistent_check_ins(visit, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Visit.objects.filter(pk=visit.pk).update(**fields)
