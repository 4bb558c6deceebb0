"""Reads of visits and follow-ups, scoped to the user."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import numpy as np
from django.contrib.auth import get_user_model
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from analytics.models import ScoringPolicy
from analytics.scoring import travel_km
from core.roles import scope_by_owner, visible_rep_ids
from crm.models import RepProfile
from visits.models import CalendarFeed, FollowUp, Visit
from visits.services import at_minutes, day_start, local_zone, minutes_of


def visit_list_for_user(*, user) -> QuerySet[Visit]:
    """Visits of the reps the user may see (by the visiting rep)."""
    return scope_by_owner(Visit.objects.select_related("customer", "rep"), user, field="rep")


def follow_up_list_for_user(*, user) -> QuerySet[FollowUp]:
    return scope_by_owner(FollowUp.objects.select_related("visit__customer", "assignee"), user, field="assignee")


def follow_up_open_list_for_user(*, user, today: date) -> QuerySet[FollowUp]:
    """Open follow-ups the user may see, overdue first (most overdue on top), then by due date.

    `overdue` is annotated so a page need not compare dates row by row.
    """
    return (
        follow_up_list_for_user(user=user)
        .filter(done_at__isnull=True)
        .annotate(overdue=ExpressionWrapper(Q(due_date__lt=today), output_field=BooleanField()))
        .order_by("-overdue", "due_date", "id")
    )


def follow_up_list_for_visit(*, user, visit: Visit) -> QuerySet[FollowUp]:
    """A visit's follow-ups as the user may see them, open ones first."""
    return (
        follow_up_list_for_user(user=user)
        .filter(visit=visit)
        .order_by(F("done_at").asc(nulls_first=True), "due_date", "id")
    )


def calendar_feed_for_user(*, user) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(user=user).first()


def calendar_feed_by_token(*, token: str) -> CalendarFeed | None:
    """The live feed with this token (not revoked, its user still active), or None."""
    if not token or len(token) > CalendarFeed._meta.get_field("token").max_length:
        return None
    return (
        CalendarFeed.objects.select_related("user")
        .filter(token=token, revoked_at__isnull=True, user__is_active=True)
        .first()
    )


FEED_DAYS_BACK = 30
FEED_DAYS_AHEAD = 60


def visit_feed_list(*, rep, now: datetime) -> QuerySet[Visit]:
    """The visits a rep's calendar feed carries: their own, 30 days back to 60 ahead, not cancelled."""
    return (
        Visit.objects.select_related("customer")
        .filter(
            rep=rep,
            planned_start__gte=now - timedelta(days=FEED_DAYS_BACK),
            planned_start__lt=now + timedelta(days=FEED_DAYS_AHEAD),
        )
        .exclude(status=Visit.Status.CANCELLED)
        .order_by("planned_start", "id")
    )


# --- Today (the day's route) and the week calendar ------------------------------------------

# Visits that no longer take their slot are listed but not driven to.
OFF_ROUTE_STATUSES = (Visit.Status.CANCELLED, Visit.Status.MISSED)
# A person can still move or cancel these (and confirm a planned one): nobody has started them.
CHANGEABLE_STATUSES = (Visit.Status.PLANNED, Visit.Status.CONFIRMED)


def visit_rep_choices_for_user(*, user) -> QuerySet:
    """Whose plan the user may open: themself and the active reps (with a profile) in their scope."""
    users = get_user_model().objects.filter(Q(pk=user.pk) | Q(is_active=True, rep_profile__isnull=False))
    rep_ids = visible_rep_ids(user)
    if rep_ids is not None:
        users = users.filter(pk__in=rep_ids)
    return users.order_by("last_name", "first_name", "username")


def visit_rep_for_user(*, user, rep_id: int | None):
    """The person whose plan the page shows: the user, or `rep_id` when in their scope.

    Raises DoesNotExist (a 404) for anyone outside the user's scope.
    """
    if rep_id is None or rep_id == user.pk:
        return user
    return visit_rep_choices_for_user(user=user).get(pk=rep_id)


def visit_list_between_for_user(*, user, rep_id: int, start: datetime, end: datetime) -> QuerySet[Visit]:
    """The rep's visits starting in [start, end), as the user may see them, by planned start."""
    return (
        visit_list_for_user(user=user)
        .filter(rep_id=rep_id, planned_start__gte=start, planned_start__lt=end)
        .order_by("planned_start", "pk")
    )


def rep_profile_or_default(*, rep) -> RepProfile:
    """The rep's working pattern; the defaults (unsaved) for a user without a profile."""
    return RepProfile.objects.filter(user_id=rep.pk).first() or RepProfile(user_id=rep.pk)


def directions_url(customer) -> str | None:
    """A link that opens the phone's map app with directions to the customer.

    Google Maps' universal URL: the Maps app on Android and iOS when installed, the
    web map elsewhere (a geo: URI does nothing on iOS or a desktop). Coordinates
    when known, else the postal address; None when there is neither.
    """
    if customer.latitude is not None and customer.longitude is not None:
        destination = f"{customer.latitude:.6f},{customer.longitude:.6f}"
    else:
        destination = ", ".join(part for part in (customer.address, customer.city, customer.country) if part)
        if not destination:
            return None
    return "https://www.google.com/maps/dir/?" + urlencode({"api": "1", "destination": destination})


TERM_LABELS = {"value": _("value"), "urgency": _("urgency"), "pipeline": _("pipeline")}


@dataclass(frozen=True)
class ReasonWords:
    """Why the planner booked a visit, ready to print."""

    p: float | None
    terms: str  # "urgency 0.9, value 0.4": the terms of P that contributed, largest first
    minutes: float | None  # booked minutes
    travel_minutes: float | None  # driving minutes to reach it, as the planner estimated


def plan_reason_words(reason) -> ReasonWords | None:
    """`Visit.plan_reason` in words; None when the planner left no reason (manual visits)."""
    if not isinstance(reason, dict):
        return None

    def number(key: str) -> float | None:
        try:
            return float(reason[key])
        except (KeyError, TypeError, ValueError):
            return None

    terms = []
    for term in reason.get("terms") or []:
        try:
            name, contribution = term["term"], float(term["contribution"])
        except (KeyError, TypeError, ValueError):
            continue
        if contribution > 0:
            terms.append((contribution, str(TERM_LABELS.get(name, name))))
    terms.sort(reverse=True)
    return ReasonWords(
        p=number("p"),
        terms=", ".join(f"{label} {number_format(round(value, 2))}" for value, label in terms),
        minutes=number("minutes"),
        travel_minutes=number("travel_minutes"),
    )


@dataclass(frozen=True)
class DayVisit:
    visit: Visit
    end: datetime
    reason: ReasonWords | None
    number: int | None = None  # position on the route; None when off the route (cancelled, missed)
    drive_minutes: float | None = None  # from the previous stop, or the base for the first

    @property
    def directions(self) -> str | None:
        return directions_url(self.visit.customer)


@dataclass(frozen=True)
class DayPlan:
    rep: object
    profile: RepProfile
    day: date
    is_working_day: bool
    day_from: datetime  # the rep's working hours on that day
    day_to: datetime
    visits: list[DayVisit]  # every visit of the day, in planned-start order (= route order)
    base: tuple[float, float] | None
    return_minutes: float | None  # last stop back to the base
    drive_minutes: float  # the whole day's driving estimate

    @property
    def stops(self) -> list[DayVisit]:
        return [row for row in self.visits if row.number is not None]

    @property
    def first_start(self) -> datetime | None:
        stops = self.stops
        return stops[0].visit.planned_start if stops else None

    @property
    def last_end(self) -> datetime | None:
        stops = self.stops
        return max(row.end for row in stops) if stops else None


def _leg_minutes(points: list[tuple[float | None, float | None]], policy: ScoringPolicy) -> np.ndarray:
    """Driving minutes of each leg between consecutive points, as the planner estimates them:
    great-circle km at the policy speed, the policy's default km where a position is unknown."""
    if len(points) < 2:
        return np.empty(0)
    coords = np.array(points, dtype=np.float64)  # None -> NaN: "no coordinates"
    km = travel_km(coords[:-1, 0], coords[:-1, 1], coords[1:, 0], coords[1:, 1], policy.default_travel_km)
    return km / policy.speed_kmh * 60.0


def visit_day_plan_for_user(*, user, rep, day: date) -> DayPlan:
    """A rep's day as the user may see it: the visits in route order, the legs and the totals.

    The planner times a day's stops in route order, so planned-start order is the route.
    """

    profile = rep_profile_or_default(rep=rep)
    policy = ScoringPolicy.objects.filter(active=True).first() or ScoringPolicy()
    visits = list(
        visit_list_between_for_user(
            user=user, rep_id=rep.pk, start=day_start(day), end=day_start(day + timedelta(days=1))
        )
    )
    on_route = [v for v in visits if v.status not in OFF_ROUTE_STATUSES]
    base = None
    if profile.home_latitude is not None and profile.home_longitude is not None:
        base = (profile.home_latitude, profile.home_longitude)
    points = [(v.customer.latitude, v.customer.longitude) for v in on_route]
    legs = _leg_minutes(([base] if base else []) + points + ([base] if base and points else []), policy)
    # With a base, leg i reaches stop i; without one the first stop has no leg.
    offset = 0 if base else -1
    numbers = {v.pk: index for index, v in enumerate(on_route)}
    rows = []
    for visit in visits:
        index = numbers.get(visit.pk)
        drive = None
        if index is not None and index + offset >= 0:
            drive = round(float(legs[index + offset]), 1)
        rows.append(
            DayVisit(
                visit=visit,
                end=visit.planned_start + timedelta(minutes=visit.planned_minutes),
                reason=plan_reason_words(visit.plan_reason),
                number=None if index is None else index + 1,
                drive_minutes=drive,
            )
        )
    return DayPlan(
        rep=rep,
        profile=profile,
        day=day,
        is_working_day=bool(profile.working_days & (1 << day.weekday())),
        day_from=at_minutes(day, profile.day_start.hour * 60 + profile.day_start.minute),
        day_to=at_minutes(day, profile.day_end.hour * 60 + profile.day_end.minute),
        visits=rows,
        base=base,
        return_minutes=round(float(legs[-1]), 1) if base and points else None,
        drive_minutes=round(float(legs.sum()), 1),
    )


@dataclass(frozen=True)
class WeekVisit:
    visit: Visit
    start_minute: float  # wall-clock minutes after the day's midnight
    end: datetime
    reason: ReasonWords | None

    @property
    def movable(self) -> bool:
        return self.visit.status in CHANGEABLE_STATUSES

    @property
    def confirmable(self) -> bool:
        return self.visit.status == Visit.Status.PLANNED


@dataclass(frozen=True)
class WeekDay:
    day: date
    is_working: bool
    is_today: bool
    visits: list[WeekVisit]


@dataclass(frozen=True)
class WeekGrid:
    rep: object
    profile: RepProfile
    monday: date
    days: list[WeekDay]
    first_minute: int  # the grid's rows: whole hours covering the working day and every visit
    last_minute: int
    lunch: tuple[int, int] | None  # minutes after midnight

    @property
    def work_from(self) -> int:
        return self.profile.day_start.hour * 60 + self.profile.day_start.minute

    @property
    def work_to(self) -> int:
        return self.profile.day_end.hour * 60 + self.profile.day_end.minute

    @property
    def hours(self) -> list[int]:
        return list(range(self.first_minute // 60, self.last_minute // 60))

    @property
    def visit_count(self) -> int:
        return sum(len(day.visits) for day in self.days)


def visit_week_for_user(*, user, rep, monday: date, today: date) -> WeekGrid:
    """The rep's visits Monday to Sunday as the user may see them, placed on a grid of hours."""

    profile = rep_profile_or_default(rep=rep)
    visits = visit_list_between_for_user(
        user=user, rep_id=rep.pk, start=day_start(monday), end=day_start(monday + timedelta(days=7))
    )
    by_day: dict[date, list[WeekVisit]] = {monday + timedelta(days=i): [] for i in range(7)}
    first = profile.day_start.hour * 60 + profile.day_start.minute
    last = profile.day_end.hour * 60 + profile.day_end.minute
    for visit in visits:
        day = visit.planned_start.astimezone(local_zone()).date()
        start_minute = minutes_of(visit.planned_start, day)
        first = min(first, int(start_minute))
        last = max(last, int(np.ceil(start_minute + visit.planned_minutes)))
        by_day[day].append(
            WeekVisit(
                visit=visit,
                start_minute=start_minute,
                end=visit.planned_start + timedelta(minutes=visit.planned_minutes),
                reason=plan_reason_words(visit.plan_reason),
            )
        )
    lunch_from = profile.lunch_start.hour * 60 + profile.lunch_start.minute
    return WeekGrid(
        rep=rep,
        profile=profile,
        monday=monday,
        days=[
            WeekDay(
                day=day,
                is_working=bool(profile.working_days & (1 << day.weekday())),
                is_today=day == today,
                visits=rows,
            )
            for day, rows in by_day.items()
        ],
        first_minute=(first // 60) * 60,
        last_minute=min(1440, -(-last // 60) * 60),
        lunch=(lunch_from, lunch_from + profile.lunch_minutes) if profile.lunch_minutes else None,
    )


# A visit is running late when nobody has checked in this long after its planned start.
LATE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class FieldToday:
    now: datetime
    late: list[Visit]  # today's visits with no check-in LATE_AFTER past their start, by rep then start
    missed_yesterday: list[Visit]  # yesterday's visits nobody checked in to, by rep then start


def field_today(*, rep_ids: list[int], now: datetime) -> FieldToday:
    """Visits running late today and missed yesterday for these reps, in two queries.

    "Missed yesterday" counts visits the nightly sweep marked missed and those it has not
    swept yet (still planned or confirmed), so the panel is right before the sweep runs too.
    """
    today_date = now.astimezone(local_zone()).date()
    today = day_start(today_date)
    yesterday = day_start(today_date - timedelta(days=1))
    visits = (
        Visit.objects.select_related("customer", "rep")
        .filter(rep_id__in=rep_ids)
        .order_by("rep__last_name", "rep__first_name", "rep_id", "planned_start", "pk")
    )
    late = visits.filter(
        status__in=CHANGEABLE_STATUSES,
        checked_in_at__isnull=True,
        planned_start__gte=today,
        planned_start__lte=now - LATE_AFTER,
    )
    missed = visits.filter(
        Q(status=Visit.Status.MISSED) | Q(status__in=CHANGEABLE_STATUSES, checked_in_at__isnull=True),
        planned_start__gte=yesterday,
        planned_start__lt=today,
    )
    return FieldToday(now=now, late=list(late), missed_yesterday=list(missed))
