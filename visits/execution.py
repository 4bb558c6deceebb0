"""Visit execution: check-in, report, check-out, and the follow-up tasks a report creates.

The order a rep follows: check in on arrival (planned/confirmed -> checked_in), then
file the report and check out, normally in one step from the report form (one
transaction, see `visit_report_file_and_check_out`). Checking out without the report
is allowed (the rep writes it up in the evening): a completed visit without a report
takes its report later, once. Every refusal is a ValidationError keyed by field name.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.scoring import haversine_km
from crm.models import Need
from visits.models import FollowUp, Visit
from visits.selectors import follow_up_list_for_user, visit_list_for_user

CHECK_IN_STATUSES = (Visit.Status.PLANNED, Visit.Status.CONFIRMED)
REPORT_STATUSES = (Visit.Status.CHECKED_IN, Visit.Status.COMPLETED)
SATISFACTION_RANGE = range(1, 6)
TITLE_MAX = FollowUp._meta.get_field("title").max_length


@dataclass(frozen=True)
class CheckInOutcome:
    """What a check-in found, for the message the rep sees."""

    result: str
    distance_m: float | None


def _locked_visit(*, visit: Visit, by) -> Visit:
    """The visit's row, locked for this transaction, if `by` may act on it (else PermissionDenied).

    Views already look visits up through the scoped selector; this guards other callers
    and makes concurrent clicks (a double-submitted report) queue instead of both passing.
    """
    locked = visit_list_for_user(user=by).select_for_update(of=("self",)).filter(pk=visit.pk).first()
    if locked is None:
        raise PermissionDenied(_("You may not act on this visit."))
    return locked


def _position(latitude: float | None, longitude: float | None) -> tuple[float, float] | None:
    """(lat, lon) when both are given and valid, None when neither; ValidationError otherwise."""
    if latitude is None and longitude is None:
        return None
    errors = {}
    if latitude is None or not math.isfinite(latitude) or not -90 <= latitude <= 90:
        errors["latitude"] = _("Latitude must be between -90 and 90 degrees.")
    if longitude is None or not math.isfinite(longitude) or not -180 <= longitude <= 180:
        errors["longitude"] = _("Longitude must be between -180 and 180 degrees.")
    if errors:
        raise ValidationError(errors)
    return float(latitude), float(longitude)


def check_in_classify(
    *, position: tuple[float, float] | None, customer_latitude: float | None, customer_longitude: float | None
) -> CheckInOutcome:
    """Verified within the radius (settings.FIELDWISE_CHECKIN_RADIUS_M), outside beyond it,
    unverified when either side has no coordinates (spec section 1, T4 distance)."""
    if position is None or customer_latitude is None or customer_longitude is None:
        return CheckInOutcome(Visit.CheckInResult.UNVERIFIED, None)
    distance_m = float(haversine_km(position[0], position[1], customer_latitude, customer_longitude)) * 1000.0
    radius_m = settings.FIELDWISE_CHECKIN_RADIUS_M
    result = Visit.CheckInResult.VERIFIED if distance_m <= radius_m else Visit.CheckInResult.OUTSIDE
    return CheckInOutcome(result, distance_m)


@transaction.atomic
def visit_check_in(
    *,
    visit: Visit,
    by,
    latitude: float | None = None,
    longitude: float | None = None,
    at: datetime | None = None,
) -> Visit:
    """Record the arrival: time, position if the browser gave one, and how close it is to the customer."""
    at = at or timezone.now()
    locked = _locked_visit(visit=visit, by=by)
    if locked.status not in CHECK_IN_STATUSES:
        raise ValidationError(
            {
                "status": _("Only a planned or confirmed visit can be checked in (this one is %(status)s).")
                % {"status": locked.get_status_display()}
            }
        )
    planned_day = timezone.localdate(locked.planned_start)
    if timezone.localdate(at) != planned_day:
        # Checking in on another day would credit the wrong day's plan: move the visit first.
        raise ValidationError(
            {
                "planned_start": _(
                    "This visit is planned for %(day)s: check in on that day, or move it to today first."
                )
                % {"day": planned_day.isoformat()}
            }
        )
    position = _position(latitude, longitude)
    customer = locked.customer
    found = check_in_classify(
        position=position, customer_latitude=customer.latitude, customer_longitude=customer.longitude
    )
    locked.status = Visit.Status.CHECKED_IN
    locked.checked_in_at = at
    locked.check_in_latitude, locked.check_in_longitude = position or (None, None)
    locked.check_in_result = found.result
    locked.check_in_distance_m = found.distance_m
    locked.save(
        update_fields=[
            "status",
            "checked_in_at",
            "check_in_latitude",
            "check_in_longitude",
            "check_in_result",
            "check_in_distance_m",
            "updated_at",
        ]
    )
    return locked


def _clean_report(data: Mapping, *, today: date) -> dict:
    """The report's values, checked; ValidationError naming every field that is wrong."""
    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    outcome = data.get("outcome") or ""
    if outcome not in Visit.Outcome.values:
        error("outcome", _("Choose the outcome of the visit."))
    notes = (data.get("notes") or "").strip()
    if not notes and outcome != Visit.Outcome.CUSTOMER_ABSENT:
        error("notes", _("Write a few words about the visit."))
    satisfaction = {}
    for field in ("actual_satisfaction", "expected_satisfaction"):
        value = data.get(field)
        if value in (None, ""):
            if outcome != Visit.Outcome.CUSTOMER_ABSENT:
                error(field, _("Give a satisfaction from 1 to 5."))
            satisfaction[field] = None
        elif isinstance(value, bool) or not isinstance(value, int) or value not in SATISFACTION_RANGE:
            error(field, _("Satisfaction is a whole number from 1 to 5."))
        else:
            satisfaction[field] = value
    needs = []
    for description, satisfied in data.get("needs") or ():
        description = (description or "").strip()
        if not description:
            error("needs", _("Describe every need the customer raised."))
        needs.append((description, bool(satisfied)))
    follow_ups = []
    for title, due_date in data.get("follow_ups") or ():
        title = (title or "").strip()
        if not title:
            error("follow_ups", _("Give every follow-up a title."))
        elif len(title) > TITLE_MAX:
            error("follow_ups", _("A follow-up title has at most %(max)d characters.") % {"max": TITLE_MAX})
        if not isinstance(due_date, date):
            error("follow_ups", _("Give every follow-up a due date."))
        elif due_date < today:
            error("follow_ups", _("A follow-up cannot be due in the past."))
        follow_ups.append((title, due_date))
    next_step = (data.get("next_step") or "").strip()
    if outcome == Visit.Outcome.FOLLOW_UP and not next_step and not follow_ups:
        error("next_step", _("A follow-up is needed: say what the next step is or add a follow-up task."))
    if errors:
        raise ValidationError(errors)
    return {
        "outcome": outcome,
        "notes": notes,
        "needs": needs,
        "follow_ups": follow_ups,
        "next_step": next_step,
        **satisfaction,
    }


@transaction.atomic
def visit_report_file(*, visit: Visit, by, data: Mapping, at: datetime | None = None) -> Visit:
    """File the visit report once: outcome, notes, satisfaction, needs and follow-up tasks.

    `data` keys: outcome, notes, actual_satisfaction, expected_satisfaction (1..5),
    next_step, needs (a list of (description, satisfied)), follow_ups (a list of
    (title, due date)). Each need becomes a Need of the customer raised on this visit
    (satisfied now if it was met during the visit); each follow-up a task for the
    visit's rep. The visit's needs_raised/needs_satisfied count them, so satisfied <= raised.
    """
    at = at or timezone.now()
    locked = _locked_visit(visit=visit, by=by)
    if locked.status not in REPORT_STATUSES:
        raise ValidationError({"status": _("Check in before you file the report.")})
    if locked.report_filed_at is not None:
        raise ValidationError({"status": _("The report of this visit has already been filed.")})
    clean = _clean_report(data, today=timezone.localdate(at))
    # A need is raised no earlier than the arrival: the Need constraint wants satisfied_at >= raised_at.
    raised_at = locked.checked_in_at or at
    Need.objects.bulk_create(
        [
            Need(
                customer_id=locked.customer_id,
                visit=locked,
                description=description,
                raised_at=raised_at,
                satisfied=satisfied,
                satisfied_at=max(at, raised_at) if satisfied else None,
            )
            for description, satisfied in clean["needs"]
        ]
    )
    FollowUp.objects.bulk_create(
        [
            FollowUp(visit=locked, assignee_id=locked.rep_id, title=title, due_date=due)
            for title, due in clean["follow_ups"]
        ]
    )
    locked.outcome = clean["outcome"]
    locked.report = clean["notes"]
    locked.next_step = clean["next_step"]
    locked.actual_satisfaction = clean["actual_satisfaction"]
    locked.expected_satisfaction = clean["expected_satisfaction"]
    locked.needs_raised = len(clean["needs"])
    locked.needs_satisfied = sum(1 for _description, satisfied in clean["needs"] if satisfied)
    locked.report_filed_at = at
    locked.save(
        update_fields=[
            "outcome",
            "report",
            "next_step",
            "actual_satisfaction",
            "expected_satisfaction",
            "needs_raised",
            "needs_satisfied",
            "report_filed_at",
            "updated_at",
        ]
    )
    return locked


@transaction.atomic
def visit_check_out(
    *,
    visit: Visit,
    by,
    latitude: float | None = None,
    longitude: float | None = None,
    at: datetime | None = None,
) -> Visit:
    """Record the departure: the visit is completed (the model requires a check-out for that)."""
    at = at or timezone.now()
    locked = _locked_visit(visit=visit, by=by)
    if locked.status != Visit.Status.CHECKED_IN:
        raise ValidationError({"status": _("Only a checked-in visit can be checked out.")})
    if at < locked.checked_in_at:
        raise ValidationError({"checked_out_at": _("The check-out cannot be before the check-in.")})
    position = _position(latitude, longitude)
    locked.status = Visit.Status.COMPLETED
    locked.checked_out_at = at
    locked.check_out_latitude, locked.check_out_longitude = position or (None, None)
    locked.save(update_fields=["status", "checked_out_at", "check_out_latitude", "check_out_longitude", "updated_at"])
    return locked


@transaction.atomic
def visit_report_file_and_check_out(
    *,
    visit: Visit,
    by,
    data: Mapping,
    latitude: float | None = None,
    longitude: float | None = None,
    at: datetime | None = None,
) -> Visit:
    """The report form's usual path: file the report and leave, all or nothing."""
    at = at or timezone.now()
    visit = visit_report_file(visit=visit, by=by, data=data, at=at)
    if visit.status == Visit.Status.CHECKED_IN:
        visit = visit_check_out(visit=visit, by=by, latitude=latitude, longitude=longitude, at=at)
    return visit


def _locked_follow_up(*, follow_up: FollowUp, by) -> FollowUp:
    locked = follow_up_list_for_user(user=by).select_for_update(of=("self",)).filter(pk=follow_up.pk).first()
    if locked is None:
        raise PermissionDenied(_("You may not act on this follow-up."))
    return locked


@transaction.atomic
def follow_up_mark_done(*, follow_up: FollowUp, by, at: datetime | None = None) -> FollowUp:
    """Close a follow-up task; closing one that is already done changes nothing (a double click)."""
    locked = _locked_follow_up(follow_up=follow_up, by=by)
    if locked.done_at is None:
        locked.done_at = at or timezone.now()
        locked.save(update_fields=["done_at", "updated_at"])
    return locked


@transaction.atomic
def follow_up_reopen(*, follow_up: FollowUp, by) -> FollowUp:
    """Undo a "done" click."""
    locked = _locked_follow_up(follow_up=follow_up, by=by)
    if locked.done_at is not None:
        locked.done_at = None
        locked.save(update_fields=["done_at", "updated_at"])
    return locked
