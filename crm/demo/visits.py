"""A year of visit history for one chunk of customers, with the needs and follow-ups the visits produced."""

import numpy as np

from crm.demo.bulk import BulkWriter, nullable
from crm.demo.clock import DAY, HISTORY_DAYS, HOUR, MINUTE, DemoCalendar, working_day
from crm.demo.customers import CustomerBatch
from crm.demo.people import Roster
from crm.demo.vocabulary import (
    CANCEL_REASONS,
    FOLLOW_UP_TITLES,
    NEED_DESCRIPTIONS,
    REPORT_FINDINGS,
    REPORT_NEXT_STEPS,
    REPORT_OPENINGS,
    VISIT_AGENDAS,
    VISIT_GOALS,
    pick,
)
from crm.models import Need
from visits.models import FollowUp, Visit

TIER_MINUTES = np.array([60, 45, 30])
STATUS_SHARE = {"completed": 0.85, "missed": 0.05, "cancelled": 0.10}
FUTURE_SHARE = 0.004  # active customers with a confirmed visit in the coming two weeks
LATE_CHECK_IN_SHARE = 0.12
LATE_REPORT_SHARE = 0.15
CANCELLED_ON_THE_DAY_SHARE = 0.25
NEEDS_RAISED_SHARE = [0.45, 0.30, 0.17, 0.08]  # 0, 1, 2, 3 needs per completed visit
NEED_SATISFIED_SHARE = 0.6
FOLLOW_UPS_SHARE = [0.55, 0.33, 0.12]  # 0, 1, 2 follow-ups per completed visit
# A rep's working minutes: 08:30-12:00 then 13:00-17:30, lunch left free; visits start by 16:30.
MORNING_MINUTES = 210
STARTING_MINUTES = 420
REPORTS = [f"{a} {b} {c}" for a in REPORT_OPENINGS for b in REPORT_FINDINGS for c in REPORT_NEXT_STEPS]


def _schedule_days(*, rng: np.random.Generator, calendar: DemoCalendar, customers: CustomerBatch):
    """(customer index, day index, future?) of every visit: one per cadence over the customer's history."""
    cadence = customers.cadence.astype(float)
    span = (customers.end_day - customers.first_day).astype(float)
    offset = rng.random(cadence.size) * cadence
    count = np.maximum(0, np.ceil((span - offset) / cadence)).astype(np.int64)
    customer = np.repeat(np.arange(cadence.size), count)
    nth = np.arange(customer.size) - np.repeat(np.cumsum(count) - count, count)
    jitter = np.clip(rng.normal(0.0, 0.12, customer.size), -0.35, 0.35) * cadence[customer]
    day = np.floor(customers.first_day[customer] + offset[customer] + nth * cadence[customer] + jitter)
    day = np.clip(day.astype(np.int64), customers.first_day[customer], customers.end_day[customer] - 1)
    day = working_day(calendar=calendar, day=day, last=HISTORY_DAYS - 1)

    # A handful of confirmed visits in the next two weeks (the planner books the rest).
    booked = np.flatnonzero(customers.active & (rng.random(cadence.size) < FUTURE_SHARE))
    future_day = working_day(
        calendar=calendar, day=HISTORY_DAYS + rng.integers(0, 14, booked.size), last=HISTORY_DAYS + 20
    )
    future = np.concatenate([np.zeros(customer.size, dtype=bool), np.ones(booked.size, dtype=bool)])
    return np.concatenate([customer, booked]), np.concatenate([day, future_day]), future


def _time_of_day(*, rep: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Local start (seconds after midnight): a rep's visits of one day are spread over the working hours."""
    key = rep * 4096 + day
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    group_start = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    group_size = np.diff(np.r_[group_start, key.size])
    group = np.repeat(np.arange(group_start.size), group_size)
    rank = np.arange(key.size) - group_start[group]
    minute = (rank * STARTING_MINUTES // group_size[group]) // 15 * 15
    local = np.where(
        minute < MORNING_MINUTES,
        8 * HOUR + 30 * MINUTE + minute * MINUTE,
        13 * HOUR + (minute - MORNING_MINUTES) * MINUTE,
    )
    seconds = np.empty_like(local)
    seconds[order] = local
    return seconds


def demo_visits_seed(
    *, rng: np.random.Generator, writer: BulkWriter, calendar: DemoCalendar, roster: Roster, customers: CustomerBatch
) -> None:
    """Write the chunk's visits (completed, missed, cancelled, a few confirmed ahead), needs and follow-ups."""
    now = calendar.now
    customer, day, future = _schedule_days(rng=rng, calendar=calendar, customers=customers)
    n = customer.size
    rep = customers.rep[customer]
    planned = calendar.epoch(day, _time_of_day(rep=rep, day=day))
    minutes = np.maximum(15, TIER_MINUTES[customers.tier[customer]] + rng.choice([-15, 0, 0, 15], size=n))

    draw = rng.random(n)
    completed = ~future & (draw < STATUS_SHARE["completed"])
    missed = ~future & ~completed & (draw < STATUS_SHARE["completed"] + STATUS_SHARE["missed"])
    cancelled = ~future & ~completed & ~missed
    status = np.where(future, "confirmed", np.where(completed, "completed", np.where(missed, "missed", "cancelled")))

    # Check-in mostly within 30 minutes of the planned start (spec: compliance), some later.
    late = rng.random(n) < LATE_CHECK_IN_SHARE
    delay = np.where(late, rng.integers(31 * MINUTE, 120 * MINUTE, n), np.clip(rng.normal(120, 480, n), -600, 1740))
    checked_in = planned + delay.astype(np.int64)
    duration = np.clip(minutes * rng.lognormal(0.0, 0.25, n), 10, 240) * MINUTE
    checked_out = checked_in + duration.astype(np.int64)
    located = ~np.isnan(customers.lat[customer])
    gps = completed & located
    jitter = rng.normal(0.0, 0.0004, size=(n, 4))
    lat, lon = customers.lat[customer], customers.lon[customer]

    # Reports mostly within 24 h of check-out; one not filed by as-of has no report and no scores yet.
    filed_delay = np.where(
        rng.random(n) < LATE_REPORT_SHARE, rng.integers(DAY + HOUR, 6 * DAY, n), rng.integers(5 * MINUTE, 23 * HOUR, n)
    )
    filed_at = checked_out + filed_delay
    reported = completed & (filed_at < now)
    scored = reported & (rng.random(n) >= 0.05)
    expected = rng.choice([3, 4, 5], size=n, p=[0.3, 0.45, 0.25])
    actual = np.clip(np.rint(expected + rng.normal(-0.2, 0.9, n)), 1, 5).astype(np.int64)
    raised = np.where(completed, rng.choice(4, size=n, p=NEEDS_RAISED_SHARE), 0)
    satisfied = rng.binomial(raised, NEED_SATISFIED_SHARE)

    on_the_day = rng.random(n) < CANCELLED_ON_THE_DAY_SHARE
    cancelled_at = planned - np.where(
        on_the_day, rng.integers(30 * MINUTE, 3 * HOUR, n), rng.integers(1 * DAY, 6 * DAY, n)
    )
    created = np.maximum(planned - rng.integers(7 * DAY, 28 * DAY, n), customers.created[customer])
    cancelled_at = np.maximum(cancelled_at, created)
    updated = np.select(
        [reported, completed, cancelled, missed],
        [filed_at, checked_out, cancelled_at, planned + minutes * MINUTE],
        created,
    )
    origin = np.where(rng.random(n) < 0.7, "planner", "manual")

    ids = writer.reserve_ids(Visit, n)
    writer.insert(
        Visit,
        {
            "id": ids,
            "customer": customers.ids[customer],
            "rep": roster.rep_ids[rep],
            "planned_start": writer.timestamps(planned),
            "planned_minutes": minutes,
            "goal": pick(rng, VISIT_GOALS, n),
            "agenda": pick(rng, VISIT_AGENDAS, n),
            "status": status,
            "origin": origin,
            "checked_in_at": writer.timestamps(checked_in, completed),
            "check_in_latitude": nullable(np.round(lat + jitter[:, 0], 6), gps),
            "check_in_longitude": nullable(np.round(lon + jitter[:, 1], 6), gps),
            "checked_out_at": writer.timestamps(checked_out, completed),
            "check_out_latitude": nullable(np.round(lat + jitter[:, 2], 6), gps),
            "check_out_longitude": nullable(np.round(lon + jitter[:, 3], 6), gps),
            "report": np.where(reported, pick(rng, REPORTS, n), ""),
            "report_filed_at": writer.timestamps(filed_at, reported),
            "actual_satisfaction": nullable(actual, scored),
            "expected_satisfaction": nullable(expected, scored),
            "needs_raised": raised,
            "needs_satisfied": satisfied,
            "cancelled_at": writer.timestamps(cancelled_at, cancelled),
            "cancel_reason": np.where(cancelled, pick(rng, CANCEL_REASONS, n), ""),
            "created_at": writer.timestamps(created),
            "updated_at": writer.timestamps(updated),
        },
    )

    # One Need per raised need, the first `needs_satisfied` of each visit satisfied.
    visit = np.repeat(np.arange(n), raised)
    nth = np.arange(visit.size) - np.repeat(np.cumsum(raised) - raised, raised)
    is_satisfied = nth < satisfied[visit]
    raised_at = checked_in[visit] + (checked_out[visit] - checked_in[visit]) // 2
    # Met on average ten days later; a wait that would end after as-of is redrawn within the time left.
    wait = rng.exponential(10 * DAY, visit.size).astype(np.int64)
    room = now - 1 - raised_at
    wait = np.where(wait <= room, wait, (rng.random(visit.size) * room).astype(np.int64))
    satisfied_at = raised_at + wait
    description = np.asarray(NEED_DESCRIPTIONS, dtype=object)[
        (rng.integers(0, len(NEED_DESCRIPTIONS), n)[visit] + nth) % len(NEED_DESCRIPTIONS)
    ]
    writer.insert(
        Need,
        {
            "id": writer.reserve_ids(Need, visit.size),
            "customer": customers.ids[customer[visit]],
            "visit": ids[visit],
            "description": description,
            "satisfied": is_satisfied,
            "raised_at": writer.timestamps(raised_at),
            "satisfied_at": writer.timestamps(satisfied_at, is_satisfied),
            "created_at": writer.timestamps(raised_at),
            "updated_at": writer.timestamps(np.where(is_satisfied, satisfied_at, raised_at)),
        },
    )

    # Follow-ups due within two weeks of the visit; most of those already due are done.
    per_visit = np.where(completed, rng.choice(3, size=n, p=FOLLOW_UPS_SHARE), 0)
    visit = np.repeat(np.arange(n), per_visit)
    due_day = day[visit] + rng.integers(2, 15, visit.size)
    out = checked_out[visit]
    due_end = calendar.epoch(due_day + 1)
    done_at = out + (rng.uniform(0.05, 1.0, visit.size) * (due_end - out)).astype(np.int64)
    done = (rng.random(visit.size) < np.where(due_day < HISTORY_DAYS, 0.9, 0.25)) & (done_at < now)
    writer.insert(
        FollowUp,
        {
            "id": writer.reserve_ids(FollowUp, visit.size),
            "visit": ids[visit],
            "assignee": roster.rep_ids[rep[visit]],
            "title": pick(rng, FOLLOW_UP_TITLES, visit.size),
            "due_date": calendar.iso_date(due_day),
            "done_at": writer.timestamps(done_at, done),
            "created_at": writer.timestamps(out),
            "updated_at": writer.timestamps(np.where(done, done_at, out)),
        },
    )
