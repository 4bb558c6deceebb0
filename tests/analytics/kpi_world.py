"""A small pipeline whose KPIs are computed by hand in tests/analytics/test_kpis.py.

Times are UTC; D0 = 2025-03-01 00:00 starts the period [D0, D0 + 31 days) (March);
the previous period is the 31 days before, [2025-01-29, 2025-03-01). Stage default
probabilities (migration data): Discovery 0.1, Communication 0.3, Follow-up 0.6.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sales.models import Opportunity, Order, Stage, StageChange
from tests.factories import CustomerFactory, RepProfileFactory, TeamFactory, UserFactory, VisitFactory

D0 = datetime(2025, 3, 1, tzinfo=UTC)
PERIOD_START = D0
PERIOD_END = D0 + timedelta(days=31)  # 2025-04-01
AFTER = datetime(2025, 6, 1, tzinfo=UTC)  # "now" once the period is over


def day(n: float, hour: float = 0) -> datetime:
    return D0 + timedelta(days=n, hours=hour)


def opportunity(owner, customer, amount, history, *, manual_probability=None) -> Opportunity:
    """An opportunity moved through `history` [(stage code, day), ...]: opened at the first, closed at Won/Lost."""
    stages = {stage.code: stage for stage in Stage.objects.all()}
    code, last_day = history[-1]
    current = stages[code]
    opp = Opportunity.objects.create(
        customer=customer,
        owner=owner,
        amount=Decimal(amount),
        stage=current,
        probability=Decimal(str(manual_probability)) if manual_probability is not None else current.default_probability,
        probability_manual=manual_probability is not None,
        opened_at=day(history[0][1]),
        closed_at=day(last_day) if current.is_won or current.is_lost else None,
    )
    previous = None
    for code, n in history:
        StageChange.objects.create(opportunity=opp, from_stage=previous, to_stage=stages[code], changed_at=day(n))
        previous = stages[code]
    return opp


def order(opp, ordered: float, fulfilled: float | None) -> Order:
    return Order.objects.create(
        opportunity=opp,
        amount=opp.amount,
        ordered_at=day(ordered),
        fulfilled_at=None if fulfilled is None else day(fulfilled),
    )


def completed_visit(customer, rep, start, *, check_in, report, needs=(0, 0), scores=(None, None), minutes=60):
    """A completed visit planned at `start`: check-in `check_in` minutes later, report `report` h after check-out."""
    checked_in = start + timedelta(minutes=check_in)
    checked_out = checked_in + timedelta(minutes=minutes)
    actual, expected = scores
    return VisitFactory(
        customer=customer,
        rep=rep,
        planned_start=start,
        status="completed",
        checked_in_at=checked_in,
        checked_out_at=checked_out,
        report_filed_at=checked_out + timedelta(hours=report),
        needs_raised=needs[0],
        needs_satisfied=needs[1],
        actual_satisfaction=actual,
        expected_satisfaction=expected,
    )


@dataclass
class World:
    ann: object
    bob: object
    cy: object  # a rep with no data at all
    dee: object  # another team's rep, left out when the report names its reps


def build_world() -> World:
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    ann = RepProfileFactory(team=north, user__username="ann", user__first_name="Ann", user__last_name="Archer").user
    bob = RepProfileFactory(team=north, user__username="bob", user__first_name="Bob", user__last_name="Baker").user
    cy = RepProfileFactory(team=north, user__username="cy", user__first_name="", user__last_name="").user
    dee = RepProfileFactory(team=south, user__username="dee", user__first_name="Dee", user__last_name="Dunn").user
    UserFactory(username="boss", role="Manager")  # not a rep: never listed
    ann_customer = CustomerFactory(owner=ann)
    bob_customer = CustomerFactory(owner=bob)
    dee_customer = CustomerFactory(owner=dee)

    # --- Ann ---
    a1 = opportunity(
        ann, ann_customer, 10_000, [("discovery", -20), ("communication", -10), ("follow-up", 2), ("won", 5)]
    )
    order(a1, 5, 9)  # fulfilled in March after 4 days
    opportunity(ann, ann_customer, 4_000, [("discovery", -5), ("communication", 1), ("lost", 11)])
    opportunity(ann, ann_customer, 20_000, [("discovery", -40), ("communication", -35), ("follow-up", 20)])
    opportunity(ann, ann_customer, 8_000, [("discovery", -8), ("communication", -3)], manual_probability=0.5)
    a5 = opportunity(
        ann, ann_customer, 6_000, [("discovery", -60), ("communication", -50), ("follow-up", -40), ("won", -20)]
    )
    order(a5, -20, -14)  # fulfilled in the previous period after 6 days

    # --- Bob ---
    b1 = opportunity(
        bob,
        bob_customer,
        5_000,
        [
            ("discovery", -2),
            ("communication", 3),
            ("follow-up", 7),
            ("communication", 9),
            ("follow-up", 12),
            ("won", 15),
        ],
    )
    order(b1, 15, None)  # not fulfilled
    opportunity(bob, bob_customer, 3_000, [("discovery", -1), ("lost", 20)])
    opportunity(bob, bob_customer, 1_000, [("discovery", 25)])
    opportunity(bob, bob_customer, 2_000, [("discovery", 10), ("follow-up", 20), ("won", 40)])  # won after March

    # --- Dee (another team) ---
    d1 = opportunity(dee, dee_customer, 99_999, [("discovery", -3), ("communication", 1), ("won", 4)])
    order(d1, 4, 5)
    completed_visit(dee_customer, dee, day(6, 10), check_in=0, report=1, needs=(1, 0), scores=(1, 5))

    # --- visits ---
    completed_visit(ann_customer, ann, day(2, 10), check_in=10, report=7, needs=(3, 2), scores=(5, 4))  # V1
    completed_visit(ann_customer, ann, day(4, 9), check_in=45, report=1.5, needs=(1, 1), scores=(3, 5))  # V2
    completed_visit(ann_customer, ann, day(6, 14), check_in=0, report=49, scores=(4, None))  # V3
    VisitFactory(  # V4: cancelled two days ahead: not planned
        customer=ann_customer, rep=ann, planned_start=day(10, 10), status="cancelled", cancelled_at=day(8, 12)
    )
    VisitFactory(  # V5: cancelled on the day: planned, not completed
        customer=ann_customer, rep=ann, planned_start=day(12, 15), status="cancelled", cancelled_at=day(12, 9)
    )
    VisitFactory(customer=ann_customer, rep=ann, planned_start=day(14, 10), status="missed")  # V6
    completed_visit(ann_customer, ann, day(-10, 10), check_in=0, report=0.5, needs=(2, 1), scores=(2, 4))  # V7
    completed_visit(bob_customer, bob, day(3, 10), check_in=-20, report=23.5)  # W1
    return World(ann=ann, bob=bob, cy=cy, dee=dee)
