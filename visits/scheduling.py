"""A person's changes to the plan: move, confirm or cancel a visit, add a manual one.

A moved or added visit is confirmed: the nightly planner keeps confirmed visits
where they are and plans around them (see `visits.services.KEPT_STATUSES`).

Every new time is checked against the rep's rules: not in the past, on a working
day, within working hours, clear of lunch, and not overlapping another of the
rep's visits that still takes its slot (cancelled and missed ones free it). The
checks run under a row lock on the rep (their RepProfile, or the user row when
they have none), so two concurrent changes for one rep queue and the second one
sees the first: they cannot both pass the overlap check.
"""

import logging
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from core.roles import scope_by_owner, visible_rep_ids
from crm.models import WEEKDAY_LABELS, Customer, RepProfile
from visits.models import Visit
from visits.selectors import CHANGEABLE_STATUSES, visit_list_for_user
from visits.services import local_zone, minutes_of

logger = logging.getLogger(__name__)

# These no longer take their slot: another visit may be booked over them.
SLOT_FREEING_STATUSES = (Visit.Status.CANCELLED, Visit.Status.MISSED)
# Overlap search window before the new start; no visit lasts longer than a day.
LONGEST_VISIT = timedelta(days=1)
REASON_MAX = Visit._meta.get_field("cancel_reason").max_length
GOAL_MAX = Visit._meta.get_field("goal").max_length


def _clock(minutes: float) -> str:
    """Wall-clock minutes since midnight as a 24-hour time ("12:00")."""
    whole = int(round(minutes))
    return time_format(time(min(whole // 60, 23), whole % 60), "H:i")


def _moment(value: datetime) -> str:
    return date_format(timezone.localtime(value, local_zone()), pgettext("date format", "D j M H:i"))


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _lock_rep(rep_id: int) -> RepProfile:
    """Lock the rep's schedule for this transaction and return their working rules.

    A rep without a profile (a manager's own visits) gets the default working pattern;
    their user row is the lock then.
    """
    profile = RepProfile.objects.select_for_update().filter(user_id=rep_id).first()
    if profile is None:
        list(get_user_model().objects.select_for_update().filter(pk=rep_id).values_list("pk", flat=True))
        profile = RepProfile(user_id=rep_id)
    return profile


def _ensure_rep_in_scope(*, rep_id: int, by) -> None:
    rep_ids = visible_rep_ids(by)
    if rep_ids is not None and not rep_ids.filter(pk=rep_id).exists():
        raise PermissionDenied(_("You may not change this person's visits."))


def _locked_visit(*, visit: Visit, by) -> Visit:
    """The visit's current row, locked, if `by` may act on it.

    Re-read after the rep lock: the row may have changed (or, for an unconfirmed
    planner visit, been replaced by a nightly plan) since the caller loaded it.
    """
    locked = visit_list_for_user(user=by).select_for_update(of=("self",)).filter(pk=visit.pk).first()
    if locked is None:
        if Visit.objects.filter(pk=visit.pk).exists():
            raise PermissionDenied(_("You may not change this visit."))
        raise ValidationError(_("This visit no longer exists: the plan was rebuilt. Reload the page."), code="gone")
    return locked


def _ensure_changeable(visit: Visit, message: str) -> None:
    """`message` names the action and takes the visit's current %(status)s."""
    if visit.status not in CHANGEABLE_STATUSES:
        raise ValidationError(message, code="status", params={"status": visit.get_status_display()})


def slot_errors(
    *, profile: RepProfile, start: datetime, minutes: int, exclude_pk: int | None, now: datetime
) -> list[ValidationError]:
    """Every rule a visit of `minutes` at `start` breaks for the rep of `profile` (empty: it fits).

    One message per broken rule, naming the rule and the times involved.
    """
    if timezone.is_naive(start):
        raise ValueError("start must be timezone-aware")
    errors: list[ValidationError] = []
    end = start + timedelta(minutes=minutes)
    day = timezone.localtime(start, local_zone()).date()
    begin, finish = minutes_of(start, day), minutes_of(end, day)
    span = {"start": _clock(begin), "end": _clock(finish) if finish < 1440 else _moment(end)}
    if start < now:
        errors.append(
            ValidationError(
                _("%(when)s is in the past."),
                code="past",
                params={"when": _moment(start)},
            )
        )
    if not profile.working_days & (1 << day.weekday()):
        errors.append(
            ValidationError(
                _("%(day)s is not a working day (working days: %(days)s)."),
                code="non_working_day",
                params={
                    "day": WEEKDAY_LABELS[day.weekday()],
                    "days": ", ".join(str(WEEKDAY_LABELS[d]) for d in profile.working_weekdays),
                },
            )
        )
    else:
        day_from, day_to = _minutes(profile.day_start), _minutes(profile.day_end)
        if begin < day_from or finish > day_to:
            errors.append(
                ValidationError(
                    _("%(start)s–%(end)s is outside working hours (%(day_start)s–%(day_end)s)."),
                    code="outside_hours",
                    params={**span, "day_start": _clock(day_from), "day_end": _clock(day_to)},
                )
            )
        lunch_from = _minutes(profile.lunch_start)
        lunch_to = lunch_from + profile.lunch_minutes
        if profile.lunch_minutes and begin < lunch_to and finish > lunch_from:
            errors.append(
                ValidationError(
                    _("%(start)s–%(end)s overlaps the lunch break (%(lunch_start)s–%(lunch_end)s)."),
                    code="lunch",
                    params={**span, "lunch_start": _clock(lunch_from), "lunch_end": _clock(lunch_to)},
                )
            )
    others = (
        Visit.objects.filter(rep_id=profile.user_id, planned_start__lt=end, planned_start__gt=start - LONGEST_VISIT)
        .exclude(status__in=SLOT_FREEING_STATUSES)
        .select_related("customer")
        .order_by("planned_start", "pk")
    )
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for other in others:
        other_end = other.planned_start + timedelta(minutes=other.planned_minutes)
        if other_end > start:
            errors.append(
                ValidationError(
                    _("It overlaps the visit to %(customer)s at %(start)s–%(end)s (%(status)s)."),
                    code="overlap",
                    params={
                        "customer": other.customer.name,
                        "start": _moment(other.planned_start),
                        "end": time_format(timezone.localtime(other_end, local_zone()).time(), "H:i"),
                        "status": other.get_status_display(),
                    },
                )
            )
    return errors


@transaction.atomic
def visit_move(*, visit: Visit, start: datetime, by) -> Visit:
    """Move a planned or confirmed visit to `start` (same duration); it becomes confirmed.

    Confirmed, the nightly planner keeps it at its new time and plans around it.
    Raises ValidationError naming every rule the new time breaks.
    """
    profile = _lock_rep(visit.rep_id)
    visit = _locked_visit(visit=visit, by=by)
    _ensure_changeable(visit, _("Only planned or confirmed visits can be moved; this one is %(status)s."))
    errors = slot_errors(
        profile=profile, start=start, minutes=visit.planned_minutes, exclude_pk=visit.pk, now=timezone.now()
    )
    if errors:
        raise ValidationError(errors)
    visit.planned_start = start
    visit.status = Visit.Status.CONFIRMED
    visit.save(update_fields=["planned_start", "status", "updated_at"])
    logger.info("Visit #%s moved to %s by user #%s", visit.pk, start.isoformat(), by.pk)
    return visit


@transaction.atomic
def visit_confirm(*, visit: Visit, by) -> Visit:
    """Accept a planned visit as it is: the planner keeps it from now on."""
    _lock_rep(visit.rep_id)
    visit = _locked_visit(visit=visit, by=by)
    if visit.status != Visit.Status.PLANNED:
        raise ValidationError(
            _("Only planned visits can be confirmed; this one is %(status)s."),
            code="status",
            params={"status": visit.get_status_display()},
        )
    visit.status = Visit.Status.CONFIRMED
    visit.save(update_fields=["status", "updated_at"])
    logger.info("Visit #%s confirmed by user #%s", visit.pk, by.pk)
    return visit


@transaction.atomic
def visit_cancel(*, visit: Visit, reason: str, by) -> Visit:
    """Call off a planned or confirmed visit, saying why; its slot becomes free.

    The customer stays due: the planner may book them again on another day.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason for cancelling the visit."), code="reason_required")
    if len(reason) > REASON_MAX:
        raise ValidationError(
            _("Keep the reason under %(max)s characters."), code="reason_too_long", params={"max": REASON_MAX}
        )
    _lock_rep(visit.rep_id)
    visit = _locked_visit(visit=visit, by=by)
    _ensure_changeable(visit, _("Only planned or confirmed visits can be cancelled; this one is %(status)s."))
    visit.status = Visit.Status.CANCELLED
    visit.cancelled_at = timezone.now()
    visit.cancel_reason = reason
    visit.save(update_fields=["status", "cancelled_at", "cancel_reason", "updated_at"])
    logger.info("Visit #%s cancelled by user #%s", visit.pk, by.pk)
    return visit


@transaction.atomic
def visit_create_manual(*, rep, customer: Customer, start: datetime, minutes: int, goal: str, by) -> Visit:
    """Book a visit a person chose: origin manual, status confirmed.

    Confirmed rather than planned because a person picked this time, exactly as when
    they move a planner visit; the planner keeps manual visits either way. The
    customer must be one `by` may see and one the visiting rep may see (their own,
    for a rep), so the rep can open the customer's page.
    """
    _ensure_rep_in_scope(rep_id=rep.pk, by=by)
    if not scope_by_owner(Customer.objects.filter(pk=customer.pk), by).exists():
        raise PermissionDenied(_("You may not book visits to this customer."))
    if not scope_by_owner(Customer.objects.filter(pk=customer.pk), rep).exists():
        raise ValidationError(
            _("%(customer)s is not one of %(rep)s's customers."),
            code="customer_scope",
            params={"customer": customer.name, "rep": rep.get_full_name() or rep.get_username()},
        )
    if minutes <= 0:
        raise ValidationError(_("A visit lasts at least one minute."), code="minutes")
    goal = (goal or "").strip()
    if len(goal) > GOAL_MAX:
        raise ValidationError(_("Keep the goal under %(max)s characters."), code="goal", params={"max": GOAL_MAX})
    profile = _lock_rep(rep.pk)
    errors = slot_errors(profile=profile, start=start, minutes=minutes, exclude_pk=None, now=timezone.now())
    if errors:
        raise ValidationError(errors)
    visit = Visit.objects.create(
        customer=customer,
        rep=rep,
        planned_start=start,
        planned_minutes=minutes,
        goal=goal,
        status=Visit.Status.CONFIRMED,
        origin=Visit.Origin.MANUAL,
    )
    logger.info("Manual visit #%s booked for user #%s by user #%s", visit.pk, rep.pk, by.pk)
    return visit
