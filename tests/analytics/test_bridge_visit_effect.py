"""The visit-effect loader's events: exactly the forward moves and orders of the window, on the customers looked at.

The events statement is hand-written SQL (one join to the opportunities for both
event tables); these tests hold it to the definition, and to the plain ORM query it
replaced, on both databases and both transports (a team's rows travel packed on
PostgreSQL, everybody's as plain rows).
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db.models import F

from analytics.bridge import load_visit_effect_inputs
from analytics.bridge.columns import load_queryset_columns
from analytics.bridge.expressions import IdIn, epoch_column, int_column
from sales.models import Order, Stage, StageChange
from tests.factories import (
    CustomerFactory,
    OpportunityFactory,
    OrderFactory,
    RepProfileFactory,
    checked_out_visit,
    stage,
)

START = datetime(2025, 5, 5, tzinfo=UTC)
END = START + timedelta(days=28)
HORIZON = timedelta(days=14)
UNTIL = END + HORIZON  # the last instant whose events can count
TICK = timedelta(microseconds=1)


def load(rep_ids):
    return load_visit_effect_inputs(
        rep_ids=rep_ids,
        period_start=START,
        period_end=END,
        visits_until=END,
        horizon_seconds=HORIZON.total_seconds(),
        now=(UNTIL + timedelta(days=1)).timestamp(),
    )


def event_pairs(inputs) -> list[tuple[int, float]]:
    """(customer, epoch seconds) of the loaded events, sorted: their order is not part of the contract."""
    return sorted(zip(inputs.event_customer.tolist(), inputs.event_time.tolist(), strict=True))


def change(opportunity, at: datetime, from_code: str | None, to_code: str) -> StageChange:
    return StageChange.objects.create(
        opportunity=opportunity,
        from_stage=stage(from_code) if from_code else None,
        to_stage=stage(to_code),
        changed_at=at,
    )


@pytest.fixture
def history(db):
    """A visited customer and a baseline one of rep r1, a customer of r2, and a lead: every case once."""
    r1, r2 = (RepProfileFactory().user for _ in range(2))
    visited, quiet = CustomerFactory(owner=r1), CustomerFactory(owner=r1)
    other = CustomerFactory(owner=r2)
    checked_out_visit(visited, r1, START + timedelta(days=3))
    deal = OpportunityFactory(customer=visited)
    change(deal, START - timedelta(days=9), None, "discovery")  # opened: no move, and before the window
    change(deal, START, "discovery", "communication")  # at the window's start: in
    change(deal, START + timedelta(days=5), "communication", "follow-up")
    change(deal, START + timedelta(days=6), "follow-up", "communication")  # backward: out
    change(deal, START + timedelta(days=7), "communication", "lost")  # to Lost, a later stage: never
    change(deal, UNTIL, "communication", "won")  # to Won at the window's very end: in
    OrderFactory(opportunity=deal, ordered_at=UNTIL)  # in
    early = OpportunityFactory(customer=visited)
    change(early, START - TICK, "discovery", "follow-up")  # a microsecond before the window: out
    OrderFactory(opportunity=early, ordered_at=START)  # in
    late = OpportunityFactory(customer=quiet)
    change(late, START + timedelta(days=2), None, "discovery")  # opened in the window: no move
    change(late, START + timedelta(days=20), "discovery", "won")  # in
    change(late, UNTIL + TICK, "won", "lost")  # out twice: after the window, and to Lost
    OrderFactory(opportunity=late, ordered_at=UNTIL + TICK)  # a microsecond after the window: out
    change(OpportunityFactory(customer=other), START + timedelta(days=4), "discovery", "communication")
    lead = OpportunityFactory(customer=None, owner=r1)
    change(lead, START + timedelta(days=4), "discovery", "won")  # no customer: nobody's event
    OrderFactory(opportunity=lead, ordered_at=START + timedelta(days=4))
    return r1, r2, visited, quiet, other


def expected(*events: tuple) -> list[tuple[int, float]]:
    return sorted((customer.pk, moment.timestamp()) for customer, moment in events)


def test_events_are_the_forward_moves_and_orders_of_the_window_on_the_customers_looked_at(
    history, django_assert_max_num_queries
):
    r1, _, visited, quiet, _ = history
    with django_assert_max_num_queries(4):
        inputs = load([r1.pk])

    assert inputs.baseline_customer.tolist() == [quiet.pk]
    assert event_pairs(inputs) == expected(
        (visited, START),  # discovery -> communication
        (visited, START + timedelta(days=5)),  # communication -> follow-up
        (visited, UNTIL),  # communication -> won
        (visited, UNTIL),  # the order
        (visited, START),  # the early opportunity's order
        (quiet, START + timedelta(days=20)),  # discovery -> won
    )


def test_every_rep_loads_every_customers_events_but_no_leads(history):
    _, _, visited, quiet, other = history
    pairs = event_pairs(load(None))
    # r2's customer joins in; the lead's move and order still belong to nobody.
    assert [customer for customer, _ in pairs].count(other.pk) == 1
    assert {customer for customer, _ in pairs} == {visited.pk, quiet.pk, other.pk}
    assert len(pairs) == 7


def test_a_team_without_customers_loads_no_events(history):
    idle = RepProfileFactory().user
    inputs = load([idle.pk])
    assert (inputs.event_customer.size, inputs.event_time.size, inputs.baseline_customer.size) == (0, 0, 0)
    assert (inputs.event_customer.dtype, inputs.event_time.dtype) == (np.int64, np.float64)


def orm_events(customer_ids: list[int] | None) -> list[tuple[int, float]]:
    """The events as the ORM query this loader replaced selected them (a stage join each way), same conversions."""
    moves = StageChange.objects.filter(
        changed_at__gte=START,
        changed_at__lte=UNTIL,
        to_stage__order__gt=F("from_stage__order"),
        to_stage__is_lost=False,
        opportunity__customer__isnull=False,
    )
    orders = Order.objects.filter(ordered_at__gte=START, ordered_at__lte=UNTIL, opportunity__customer__isnull=False)
    if customer_ids is not None:
        moves = moves.filter(IdIn("opportunity__customer_id", customer_ids))
        orders = orders.filter(IdIn("opportunity__customer_id", customer_ids))
    loaded = load_queryset_columns(
        [moves.order_by().annotate(at=F("changed_at")), orders.order_by().annotate(at=F("ordered_at"))],
        {"customer": (int_column("opportunity__customer_id"), ">i8"), "time": (epoch_column("at"), ">f8")},
        packed=customer_ids is not None,
    )
    return sorted(zip(loaded["customer"].tolist(), loaded["time"].tolist(), strict=True))


def test_events_match_the_orm_query_on_random_histories(db):
    # given: a stage past Won that is not Lost (a later stage: moves into it are forward), and random
    # histories on the customers of two reps, a lead, moves every way and events on the window's edges
    Stage.objects.create(code="review", name="Review", order=9, default_probability=Decimal("0.5"))
    stages = list(Stage.objects.all())
    rng = np.random.default_rng(20251105)
    r1, r2 = (RepProfileFactory().user for _ in range(2))
    customers = [
        CustomerFactory(owner=r1 if k % 3 else r2, status="inactive" if k % 7 == 0 else "active") for k in range(24)
    ]
    for customer in customers[::4]:
        at = START + timedelta(days=float(rng.uniform(0, 28)))  # drawn before the rep, as the data always was
        checked_out_visit(customer, r1 if rng.random() < 0.7 else r2, at)
    edges = [START - TICK, START, UNTIL, UNTIL + TICK]
    for k in range(60):
        customer = customers[k % len(customers)] if k % 13 else None
        opportunity = OpportunityFactory(customer=customer, owner=r1)
        previous = None
        for _ in range(int(rng.integers(1, 6))):
            to = stages[int(rng.integers(len(stages)))]
            if to == previous:
                continue
            moment = (
                edges[int(rng.integers(4))]
                if rng.random() < 0.2
                else START + timedelta(days=float(rng.uniform(-5, 47)))
            )
            StageChange.objects.create(opportunity=opportunity, from_stage=previous, to_stage=to, changed_at=moment)
            previous = to
        if rng.random() < 0.5:
            moment = (
                edges[int(rng.integers(4))]
                if rng.random() < 0.3
                else START + timedelta(days=float(rng.uniform(-5, 47)))
            )
            OrderFactory(opportunity=opportunity, ordered_at=moment)

    for rep_ids in ([r1.pk], [r1.pk, r2.pk], None):
        # when
        inputs = load(rep_ids)
        # then: the same rows, for the same customers, as the ORM query
        looked_at = np.union1d(inputs.visit_customer, inputs.baseline_customer).tolist()
        assert event_pairs(inputs) == orm_events(looked_at)
        assert len(event_pairs(inputs)) > 10  # the data does exercise the query
