"""Visit workflows: the missed-visit sweep and the per-rep plan swap of the nightly planner."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Now

from analytics.models import PlanRun, ScoringPolicy
from analytics.run_compute import priority_terms
from analytics.runs import run_progress, run_start
from analytics.scoring import booked_minutes, travel_km
from core.audit import audit_trail_paused
from crm.models import Customer, RepProfile
from visits.models import Visit
from visits.planner import DayWindow, plan_days

# A person decided these: the planner never moves or deletes them and plans around them.
KEPT_STATUSES = (Visit.Status.CONFIRMED, Visit.Status.CHECKED_IN, Visit.Status.COMPLETED)
OPEN_STATUSES = (Visit.Status.PLANNED, Visit.Status.CONFIRMED)


def local_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=local_zone())


def visits_mark_missed(*, as_of: datetime) -> int:
    """Planned or confirmed visits of a day before as_of's day were not done: mark them missed.

    Their customers were not visited, so their urgency (T2, from the last completed
    visit) keeps growing and the next scoring run ranks them higher.
    """
    today = as_of.astimezone(local_zone()).date()
    # updated_at moves too: calendar feeds derive LAST-MODIFIED and SEQUENCE from it.
    return Visit.objects.filter(status__in=OPEN_STATUSES, planned_start__lt=day_start(today)).update(
        status=Visit.Status.MISSED, updated_at=Now()
    )


def horizon_days(*, profile: RepProfile, as_of: datetime, count: int) -> list[date]:
    """The rep's next `count` working days, starting with as_of's local day."""
    day = as_of.astimezone(local_zone()).date()
    days: list[date] = []
    for _ in range(7 * count + 7):  # enough calendar days to find `count` working ones
        if profile.working_days & (1 << day.weekday()):
            days.append(day)
            if len(days) == count:
                break
        day += timedelta(days=1)
    return days


def minutes_of(moment: datetime, day: date) -> float:
    """Wall-clock minutes since local midnight of `day` (a 25-hour DST day still starts at 00:00)."""
    local = moment.astimezone(local_zone())
    return (local.date() - day).days * 1440 + local.hour * 60 + local.minute + local.second / 60


def at_minutes(day: date, minutes: float) -> datetime:
    """The aware moment at wall-clock `minutes` after local midnight of `day`."""
    return day_start(day) + timedelta(minutes=minutes)


@dataclass(frozen=True)
class RepPlanInputs:
    profile: RepProfile
    days: list[date]
    windows: list[DayWindow]
    customers: list[dict]  # candidate rows, in no particular order


def _day_windows(*, profile: RepProfile, days: list[date], fixed: list[Visit], as_of: datetime) -> list[DayWindow]:
    windows = []
    for day in days:
        start = profile.day_start.hour * 60 + profile.day_start.minute
        end = profile.day_end.hour * 60 + profile.day_end.minute
        lunch = profile.lunch_start.hour * 60 + profile.lunch_start.minute
        busy = [(lunch, lunch + profile.lunch_minutes)] if profile.lunch_minutes else []
        for visit in fixed:
            if visit.planned_start.astimezone(local_zone()).date() == day:
                begin = minutes_of(visit.planned_start, day)
                busy.append((begin, begin + visit.planned_minutes))
        if day == days[0]:
            # Nothing is planned in the past: today's plan starts at as_of (next 5 minutes).
            now = np.ceil(minutes_of(as_of, day) / 5) * 5
            start = max(start, now)
        windows.append(DayWindow(float(start), float(end), tuple(busy)))
    return windows


def _travel_minutes(*, profile: RepProfile, rows: list[dict], policy: ScoringPolicy) -> np.ndarray:
    """Driving minutes between the base (node 0) and the candidates, as T4 counts them:
    great-circle km at the policy speed, the policy's default km where a position is unknown."""
    lat = np.array([profile.home_latitude] + [r["latitude"] for r in rows], dtype=np.float64)
    lon = np.array([profile.home_longitude] + [r["longitude"] for r in rows], dtype=np.float64)
    km = travel_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :], policy.default_travel_km)
    np.fill_diagonal(km, 0.0)
    return km / policy.speed_kmh * 60.0


TERM_NAMES = ("value", "urgency", "pipeline")


def _priority_terms(*, rows: list[dict], policy: ScoringPolicy) -> np.ndarray:
    """Each row's [W1 T1/T4, W2 T2/T4, W3 T3/T4] (rows x 3), in one kernel call for all of a rep's visits."""
    t = np.array([(r["t1"], r["t2"], r["t3"], r["t4"]) for r in rows], dtype=np.float64).reshape(-1, 4)
    return priority_terms(t1=t[:, 0], t2=t[:, 1], t3=t[:, 2], t4=t[:, 3], weights=(policy.w1, policy.w2, policy.w3))


def _reason(row: dict, terms: list[float], minutes: float) -> dict:
    """Why a visit was planned: P, booked minutes and the terms of P, largest first."""
    ranked = sorted(zip(TERM_NAMES, terms, strict=True), key=lambda item: item[1], reverse=True)
    return {
        "p": round(row["p"], 6),
        "minutes": minutes,
        "effort_hours": round(row["t4"], 4),
        "terms": [{"term": name, "contribution": round(value, 6)} for name, value in ranked],
    }


def load_plan_inputs(*, rep_ids: list[int], as_of: datetime, horizon: int) -> list[RepPlanInputs]:
    """Everything the planner needs for a chunk of reps, in a fixed number of queries."""
    profiles = list(RepProfile.objects.filter(user_id__in=rep_ids).order_by("user_id"))
    if not profiles:
        return []
    days_by_rep = {p.user_id: horizon_days(profile=p, as_of=as_of, count=horizon) for p in profiles}
    first_day = min(days[0] for days in days_by_rep.values())
    last_day = max(days[-1] for days in days_by_rep.values())
    window = (day_start(first_day), day_start(last_day + timedelta(days=1)))

    # Visits a person fixed in the horizon (kept statuses, or a manual visit still open),
    # and today's planner visits that already started before as_of: the plan keeps them
    # (they become missed tonight if nobody did them) and does not book their customers twice.
    fixed = list(
        Visit.objects.filter(rep_id__in=rep_ids, planned_start__gte=window[0], planned_start__lt=window[1])
        .filter(
            Q(status__in=KEPT_STATUSES)
            | Q(origin=Visit.Origin.MANUAL, status=Visit.Status.PLANNED)
            | Q(origin=Visit.Origin.PLANNER, status=Visit.Status.PLANNED, planned_start__lt=as_of)
        )
        .only("rep_id", "customer_id", "planned_start", "planned_minutes")
    )
    last_visit = (
        Visit.objects.filter(customer=OuterRef("pk"), status=Visit.Status.COMPLETED, checked_out_at__lte=as_of)
        .values("customer")
        .annotate(last=Max("checked_out_at"))
        .values("last")
    )
    rows = list(
        Customer.objects.filter(owner_id__in=rep_ids, status=Customer.Status.ACTIVE, score__isnull=False)
        .annotate(last_visit=Subquery(last_visit))
        .values(
            "pk",
            "owner_id",
            "latitude",
            "longitude",
            "visit_cadence_days",
            "last_visit",
            p=F("score__p"),
            t=F("score__t"),
            t1=F("score__t1"),
            t2=F("score__t2"),
            t3=F("score__t3"),
            t4=F("score__t4"),
        )
        .order_by("pk")
    )
    booked = {(v.rep_id, v.customer_id) for v in fixed}
    rows_by_rep: dict[int, list[dict]] = {}
    for row in rows:
        rows_by_rep.setdefault(row["owner_id"], []).append(row)
    fixed_by_rep: dict[int, list[Visit]] = {}
    for visit in fixed:
        fixed_by_rep.setdefault(visit.rep_id, []).append(visit)
    inputs = []
    for profile in profiles:
        days = days_by_rep[profile.user_id]
        own_fixed = fixed_by_rep.get(profile.user_id, [])
        candidates = [
            row
            for row in rows_by_rep.get(profile.user_id, [])
            if (profile.user_id, row["pk"]) not in booked
            and (row["last_visit"] is None or row["last_visit"] + timedelta(days=row["visit_cadence_days"]) <= as_of)
        ]
        windows = _day_windows(profile=profile, days=days, fixed=own_fixed, as_of=as_of)
        inputs.append(RepPlanInputs(profile=profile, days=days, windows=windows, customers=candidates))
    return inputs


def plan_visits_for_rep(*, inputs: RepPlanInputs, as_of: datetime, policy: ScoringPolicy, run: PlanRun) -> list[Visit]:
    """The new planner visits of one rep (unsaved), deterministic for the same inputs."""
    rows = inputs.customers
    if not rows:
        return []
    minutes = booked_minutes(np.array([r["t"] for r in rows]), policy.max_visit_minutes)
    stops = plan_days(
        days=inputs.windows,
        priority=np.array([r["p"] for r in rows]),
        minutes=minutes,
        travel_minutes=_travel_minutes(profile=inputs.profile, rows=rows, policy=policy),
    )
    terms = _priority_terms(rows=[rows[stop.candidate] for stop in stops], policy=policy).tolist()
    visits = []
    for stop, stop_terms in zip(stops, terms, strict=True):
        row = rows[stop.candidate]
        reason = _reason(row, stop_terms, float(minutes[stop.candidate]))
        reason["travel_minutes"] = round(stop.travel_minutes, 1)
        visits.append(
            Visit(
                customer_id=row["pk"],
                rep_id=inputs.profile.user_id,
                planned_start=at_minutes(inputs.days[stop.day], stop.start_minute),
                planned_minutes=int(minutes[stop.candidate]),
                status=Visit.Status.PLANNED,
                origin=Visit.Origin.PLANNER,
                plan_run=run,
                priority=row["p"],
                plan_reason=reason,
            )
        )
    return visits


@transaction.atomic
def rep_plan_swap(*, rep_id: int, days: list[date], as_of: datetime, visits: list[Visit]) -> int:
    """Replace the rep's unconfirmed planner visits from as_of to the horizon's end, atomically.

    Readers see the old plan or the new one, never a mix; a worker killed here
    leaves the old plan in place. The rep's profile row is locked as the calendar's
    changes lock it (`visits.scheduling`), and a new visit that overlaps one a person
    fixed while this plan was being computed is dropped: the person's decision wins.
    """
    horizon_end = day_start(days[-1] + timedelta(days=1))
    list(RepProfile.objects.select_for_update().filter(user_id=rep_id).values_list("pk", flat=True))
    # The rep's visits are found by rep and time alone and narrowed here: given the status
    # too, PostgreSQL underestimates "planned in the horizon" (status and date correlate) and
    # ANDs in the (status, planned_start) index, reading every rep's plan for each rep.
    window = Visit.objects.filter(
        rep_id=rep_id, planned_start__gte=max(day_start(days[0]), as_of), planned_start__lt=horizon_end
    )
    stale = [
        pk
        for pk, status, origin in window.values_list("pk", "status", "origin")
        if status == Visit.Status.PLANNED and origin == Visit.Origin.PLANNER
    ]
    if stale:
        # The cascade needs the ids only: do not load whole rows to delete them. Replacing the
        # machine's own proposals is no one's change: no audit row (nor reload) per visit.
        with audit_trail_paused():
            Visit.objects.filter(pk__in=stale).only("pk").delete()
    kept = list(
        Visit.objects.filter(rep_id=rep_id, planned_start__gte=day_start(days[0]), planned_start__lt=horizon_end)
        .exclude(status__in=(Visit.Status.CANCELLED, Visit.Status.MISSED))
        .values_list("planned_start", "planned_minutes")
    )
    if kept:
        visits = [v for v in visits if not _overlaps_any(v, kept)]
    Visit.objects.bulk_create(visits, batch_size=500)
    return len(visits)


def _overlaps_any(visit: Visit, intervals: list[tuple[datetime, int]]) -> bool:
    end = visit.planned_start + timedelta(minutes=visit.planned_minutes)
    return any(visit.planned_start < start + timedelta(minutes=minutes) and start < end for start, minutes in intervals)


def plan_lease() -> timedelta:
    """How long a planning run stays alive without progress before it counts as dead."""
    return timedelta(seconds=settings.FIELDWISE_PLAN_LEASE_SECONDS)


def plan_rep_ids() -> list[int]:
    """Every active rep with a profile, in a stable order."""
    return list(RepProfile.objects.filter(user__is_active=True).order_by("user_id").values_list("user_id", flat=True))


def plans_run_start(*, as_of: datetime, requested_by=None) -> tuple[PlanRun, list[list[int]]]:
    """Open a planning run over every rep and split the reps into chunks for the workers.

    Raises RunInProgress when another planning run is live.
    """
    rep_ids = plan_rep_ids()
    run = run_start(
        kind=PlanRun.Kind.PLANS,
        as_of=as_of,
        lease=plan_lease(),
        policy=ScoringPolicy.objects.get(active=True),
        total=len(rep_ids),
        requested_by=requested_by,
    )
    size = settings.FIELDWISE_PLANNER_CHUNK_REPS
    return run, [rep_ids[i : i + size] for i in range(0, len(rep_ids), size)]


def plans_chunk_build(*, run_id: int, rep_ids: list[int], as_of: datetime) -> int:
    """One chunk of a planning run: plan its reps, then count them done and renew the lease."""
    run = PlanRun.objects.select_related("policy").get(pk=run_id)
    if run.status != PlanRun.Status.RUNNING:
        # A chunk redelivered after its run was declared dead: the rerun owns the plans now.
        return 0
    planned = plans_build(rep_ids=rep_ids, as_of=as_of, run=run)
    run_progress(run_id=run_id, done=len(rep_ids), lease=plan_lease())
    return planned


def plans_build(*, rep_ids: list[int], as_of: datetime, run: PlanRun, horizon: int | None = None) -> int:
    """Plan every rep of a chunk; each rep's swap is its own transaction. Returns visits planned."""
    horizon = horizon or settings.FIELDWISE_PLANNER_HORIZON_DAYS
    policy = run.policy or ScoringPolicy.objects.get(active=True)
    planned = 0
    for inputs in load_plan_inputs(rep_ids=rep_ids, as_of=as_of, horizon=horizon):
        visits = plan_visits_for_rep(inputs=inputs, as_of=as_of, policy=policy, run=run)
        planned += rep_plan_swap(rep_id=inputs.profile.user_id, days=inputs.days, as_of=as_of, visits=visits)
    return planned
