"""Stored visit-effect counts: triggers on visits and sales events mark the days they decide; figures never change.

The visit-effect report reads closed days' per-rep counts (visits checked out, and
those followed within 14 days by a forward move or an order) from `VisitDayTerms`
where no mark says they are stale, and the visits elsewhere. A sales event decides
the effect of the visits before it, so stage changes and orders mark the check-out
days of their customer's visits in the 14 days before them. Every test compares the
stored path with the visits themselves (the same report with the state row removed).
"""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from analytics.bridge.visit_days import SECONDS_PER_DAY
from analytics.bridge.visit_effect import load_visit_effect_inputs
from analytics.models import VisitDayMark, VisitDayState
from analytics.visit_days import visit_days_refresh
from analytics.visit_effect import visit_effect_report
from analytics.visit_effect_math import HORIZON_SECONDS
from sales.models import Stage, StageChange
from tests.factories import (
    CustomerFactory,
    OpportunityFactory,
    OrderFactory,
    RepProfileFactory,
    VisitFactory,
    checked_out_visit,
    stage,
)
from visits.models import Visit

NOW = datetime(2025, 6, 20, 15, 30, tzinfo=UTC)
FIRST = datetime(2025, 3, 1, tzinfo=UTC)
CODES = ["discovery", "communication", "follow-up", "won", "lost"]


def utc_day(moment: datetime) -> int:
    return int(moment.timestamp() // SECONDS_PER_DAY)


def marks() -> set[tuple[int, int]]:
    return set(VisitDayMark.objects.values_list("rep_id", "day"))


def move(opportunity, at: datetime, from_code: str, to_code: str) -> StageChange:
    return StageChange.objects.create(
        opportunity=opportunity, from_stage=stage(from_code), to_stage=stage(to_code), changed_at=at
    )


@pytest.fixture
def reps(db):
    return [RepProfileFactory(user__username=f"rep{n}").user for n in range(3)]


def random_history(reps, seed: int = 5) -> list:
    """Completed visits, stage moves every way and orders on a dozen customers, March to June 2025."""
    rng = random.Random(seed)
    customers = [CustomerFactory(owner=reps[k % len(reps)]) for k in range(12)]
    span = int((NOW - FIRST).total_seconds() // 60)
    for _ in range(90):
        customer = rng.choice(customers)
        visitor = customer.owner if rng.random() < 0.8 else rng.choice(reps)
        checked_out_visit(customer, visitor, FIRST + timedelta(minutes=rng.randrange(span)))
    for _ in range(25):
        opportunity = OpportunityFactory(customer=rng.choice(customers), opened_at=FIRST - timedelta(days=30))
        for _ in range(rng.randrange(1, 5)):
            a, b = rng.sample(CODES, 2)
            move(opportunity, FIRST + timedelta(minutes=rng.randrange(span + 20 * 1440)), a, b)
        if rng.random() < 0.4:
            OrderFactory(opportunity=opportunity, ordered_at=FIRST + timedelta(minutes=rng.randrange(span)))
    return customers


PERIODS = [
    (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
    (datetime(2025, 3, 10, 12, tzinfo=UTC), datetime(2025, 6, 1, 6, tzinfo=UTC)),  # edges cut days
    (datetime(2025, 5, 15, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)),  # still running at NOW
]


def report(rep_ids, period):
    return visit_effect_report(rep_ids=rep_ids, period_start=period[0], period_end=period[1], as_of=NOW)


def uses_stored_days(rep_ids, period) -> bool:
    start, end = period
    inputs = load_visit_effect_inputs(
        rep_ids=rep_ids,
        period_start=start,
        period_end=end,
        visits_until=min(end, NOW - timedelta(seconds=HORIZON_SECONDS)),
        horizon_seconds=HORIZON_SECONDS,
        now=NOW.timestamp(),
    )
    return inputs.from_stored_days


def report_from_visits(rep_ids, period):
    """The same report computed from the visits alone: the stored path disabled for one read."""
    with transaction.atomic():
        VisitDayState.objects.all().delete()
        assert not uses_stored_days(rep_ids, period)
        out = report(rep_ids, period)
        transaction.set_rollback(True)
    return out


def assert_same_as_visits(reps) -> None:
    for rep_ids in ([rep.pk for rep in reps], [reps[0].pk], None):
        for period in PERIODS:
            assert uses_stored_days(rep_ids, period)
            assert report(rep_ids, period) == report_from_visits(rep_ids, period)


def test_a_sales_event_marks_the_check_out_days_of_its_customers_visits_in_the_14_days_before(reps):
    customer, other = CustomerFactory(owner=reps[0]), CustomerFactory(owner=reps[0])
    t = datetime(2025, 4, 20, 10, tzinfo=UTC)
    checked_out_visit(customer, reps[0], t - timedelta(days=14, microseconds=1))  # more than 14 days before: no
    checked_out_visit(customer, reps[0], t - timedelta(days=14))  # exactly 14 days before: the event counts for it
    checked_out_visit(customer, reps[1], t - timedelta(days=2))  # another rep's visit of the customer
    checked_out_visit(customer, reps[0], t)  # at the event's moment: the event is not after it
    checked_out_visit(other, reps[0], t - timedelta(days=1))  # another customer
    VisitFactory(customer=customer, rep=reps[2], planned_start=t - timedelta(days=3))  # not completed
    deal = OpportunityFactory(customer=customer)
    VisitDayMark.objects.all().delete()

    change = move(deal, t, "discovery", "communication")
    expected = {(reps[0].pk, utc_day(t - timedelta(days=14))), (reps[1].pk, utc_day(t - timedelta(days=2)))}
    assert marks() == expected

    VisitDayMark.objects.all().delete()
    StageChange.objects.filter(pk=change.pk).update(changed_at=t + timedelta(days=30))  # old row marks
    assert marks() == expected
    VisitDayMark.objects.all().delete()
    change.delete()
    assert marks() == set()  # the row deleted was 30 days after the visits

    order = OrderFactory(opportunity=deal, ordered_at=t)
    assert marks() == expected
    VisitDayMark.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sales_order WHERE id = %s", [order.pk])
    assert marks() == expected


def test_a_visits_check_out_day_is_marked_old_and_new(reps):
    customer = CustomerFactory(owner=reps[0])
    out = datetime(2025, 4, 2, 23, 30, tzinfo=UTC)
    visit = checked_out_visit(customer, reps[0], out)
    assert marks() == {(reps[0].pk, utc_day(out))}  # planned an hour before: the same day

    VisitDayMark.objects.all().delete()
    Visit.objects.filter(pk=visit.pk).update(checked_out_at=out + timedelta(hours=1))
    assert marks() == {(reps[0].pk, utc_day(out)), (reps[0].pk, utc_day(out) + 1)}


def test_moving_an_opportunity_to_another_customer_marks_both_customers_visits(reps):
    first, second = CustomerFactory(owner=reps[0]), CustomerFactory(owner=reps[1])
    a = checked_out_visit(first, reps[0], datetime(2025, 4, 1, 12, tzinfo=UTC))
    b = checked_out_visit(second, reps[1], datetime(2025, 3, 3, 12, tzinfo=UTC))
    deal = OpportunityFactory(customer=first)
    VisitDayMark.objects.all().delete()

    deal.title = "renamed"
    deal.save()
    assert marks() == set()  # the same customer: nothing to redo
    deal.customer = second
    deal.save()
    assert marks() == {(reps[0].pk, utc_day(a.checked_out_at)), (reps[1].pk, utc_day(b.checked_out_at))}


def test_reordering_the_stages_sets_the_stored_sums_aside_until_rebuilt(reps):
    random_history(reps)
    visit_days_refresh(now=NOW)
    assert uses_stored_days(None, PERIODS[0])

    lost = Stage.objects.get(code="lost")
    lost.name = "Lost (renamed)"
    lost.save()
    assert uses_stored_days(None, PERIODS[0])  # a name changes no move's direction
    Stage.objects.filter(code="discovery").update(order=99)  # last: every move out of it is forward now

    assert not uses_stored_days(None, PERIODS[0])  # forward moves are others now
    visit_days_refresh(now=NOW)
    assert_same_as_visits(reps)


def test_stored_counts_equal_the_visits_after_writes_before_and_after_the_next_refresh(reps):
    customers = random_history(reps)
    # Three visits on closed days whose effect the writes below flip: the stored counts must follow.
    quiet, ordered, lost = (CustomerFactory(owner=reps[k]) for k in range(3))
    checked_out_visit(quiet, reps[0], datetime(2025, 4, 5, 10, tzinfo=UTC))
    checked_out_visit(ordered, reps[1], datetime(2025, 3, 15, 10, tzinfo=UTC))
    checked_out_visit(lost, reps[2], datetime(2025, 4, 8, 10, tzinfo=UTC))
    only_event = move(OpportunityFactory(customer=lost), datetime(2025, 4, 9, tzinfo=UTC), "discovery", "won")
    visit_days_refresh(now=NOW)
    assert_same_as_visits(reps)
    before = report([rep.pk for rep in reps], PERIODS[1])
    assert before.n_effective > 0  # the data exercises the counts

    # Sales events and visits change after the refresh, through the ORM and raw SQL.
    move(OpportunityFactory(customer=quiet), datetime(2025, 4, 6, tzinfo=UTC), "discovery", "communication")
    OrderFactory(opportunity=OpportunityFactory(customer=ordered), ordered_at=datetime(2025, 3, 16, tzinfo=UTC))
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sales_stagechange WHERE id = %s", [only_event.pk])
    after = report([rep.pk for rep in reps], PERIODS[1])
    assert (after.n_visits, after.n_effective) == (before.n_visits, before.n_effective + 1)  # +2 - 1
    deal = OpportunityFactory(customer=customers[0])
    visit = checked_out_visit(customers[0], reps[0], datetime(2025, 4, 10, 9, tzinfo=UTC))
    move(deal, datetime(2025, 4, 12, tzinfo=UTC), "communication", "follow-up")
    OrderFactory(opportunity=OpportunityFactory(customer=customers[1]), ordered_at=datetime(2025, 3, 20, tzinfo=UTC))
    StageChange.objects.filter(pk=StageChange.objects.order_by("pk")[3].pk).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE sales_stagechange SET changed_at = %s WHERE id = %s",
            [datetime(2025, 5, 2, tzinfo=UTC), StageChange.objects.order_by("-pk")[2].pk],
        )
    moved = OpportunityFactory(customer=customers[2])
    move(moved, datetime(2025, 3, 25, tzinfo=UTC), "discovery", "won")
    moved.customer = customers[3]
    moved.save()
    Visit.objects.filter(pk=visit.pk).update(checked_out_at=datetime(2025, 4, 11, 9, tzinfo=UTC))

    assert marks()
    assert_same_as_visits(reps)  # the marked days are read from the visits
    assert visit_days_refresh(now=NOW) > 0
    assert all(day >= utc_day(NOW) for _, day in marks())
    assert_same_as_visits(reps)  # and now from the refreshed counts


TRIGGERS = {
    "visits_visit": {f"analytics_visit_day_{event}" for event in ("insert", "update", "delete")},
    "sales_stagechange": {f"analytics_visit_effect_stagechange_{event}" for event in ("insert", "update", "delete")},
    "sales_order": {f"analytics_visit_effect_order_{event}" for event in ("insert", "update", "delete")},
    "sales_opportunity": {"analytics_visit_effect_opportunity_update"},
    "sales_stage": {"analytics_visit_effect_stage_update"},
}


def test_every_trigger_is_in_place_after_all_migrations(db):
    # SQLite drops a table's triggers when a migration rebuilds the table (most field changes do):
    # a later migration that rebuilt one of these tables would silently stop the marks.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid")
        else:
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        found = cursor.fetchall()
    for table, names in TRIGGERS.items():
        assert names <= {name for on, name in found if on == table}, table
