"""A small database whose scoring answers are worked out by hand (spec section 1).

`build_world` creates five customers with every input known; `expected_scores`
writes the spec formulas out with `math` (deliberately not the kernels) so a test
compares the stored rows against an independent computation.
"""

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from crm.models import Customer
from tests.factories import CustomerFactory, OpportunityFactory, RepProfileFactory, VisitFactory, stage

AS_OF = datetime(2025, 3, 15, 12, 0, tzinfo=UTC)
EARTH_RADIUS_KM = 6371.0088
PARIS = (48.8566, 2.3522)  # the `rep` fixture's base (RepProfileFactory default)
VERSAILLES = (48.8049, 2.1204)
LILLE = (50.6292, 3.0573)
LYON = (45.7640, 4.8357)
DEFAULT_POLICY = {
    "weights": (0.5, 0.3, 0.2),
    "t5": {"A": 60.0, "B": 45.0, "C": 30.0},
    "t6": {"A": 20.0, "B": 15.0, "C": 10.0},
    "speed_kmh": 40.0,
    "default_km": 20.0,
    "max_minutes": 120,
}


@dataclass
class World:
    alpha: Customer  # A, Versailles, visited 42 days ago (cadence 30), pipeline 11,000
    beta: Customer  # B, no coordinates, visited 3.25 days ago (cadence 14), pipeline 4,800
    gamma: Customer  # C, Lyon, owned by the Lille rep, never visited, no pipeline, value 0
    epsilon: Customer  # B, no owner (no base), visited exactly 30 days ago (cadence 30)
    delta: Customer  # inactive: never scored, and its huge value must not normalise T1
    far_rep: object
    inputs: dict  # customer id -> the hand-known inputs


def completed_visit(customer, *, days_before: float, rep=None):
    out = AS_OF - timedelta(days=days_before)
    return VisitFactory(
        customer=customer,
        rep=rep or customer.owner,
        planned_start=out - timedelta(hours=1),
        status="completed",
        checked_in_at=out - timedelta(minutes=50),
        checked_out_at=out,
    )


def build_world(rep) -> World:
    far_rep = RepProfileFactory(user__username="rep_lille", home_latitude=LILLE[0], home_longitude=LILLE[1]).user
    alpha = CustomerFactory(
        code="ALPHA",
        owner=rep,
        tier="A",
        annual_value=Decimal("120000.00"),
        visit_cadence_days=30,
        latitude=VERSAILLES[0],
        longitude=VERSAILLES[1],
    )
    beta = CustomerFactory(
        code="BETA",
        owner=rep,
        tier="B",
        annual_value=Decimal("30000.00"),
        visit_cadence_days=14,
        latitude=None,
        longitude=None,
    )
    gamma = CustomerFactory(
        code="GAMMA",
        owner=far_rep,
        tier="C",
        annual_value=Decimal("0.00"),
        visit_cadence_days=60,
        latitude=LYON[0],
        longitude=LYON[1],
    )
    epsilon = CustomerFactory(
        code="EPSILON",
        owner=None,
        tier="B",
        annual_value=Decimal("500.00"),
        visit_cadence_days=30,
        latitude=PARIS[0],
        longitude=PARIS[1],
    )
    delta = CustomerFactory(
        code="DELTA", owner=rep, tier="A", annual_value=Decimal("1000000.00"), status=Customer.Status.INACTIVE
    )

    # Visits: only the latest completed check-out at or before as_of counts.
    completed_visit(alpha, days_before=100)
    completed_visit(alpha, days_before=42)
    completed_visit(alpha, days_before=-1)  # checked out after as_of: ignored
    VisitFactory(customer=alpha, planned_start=AS_OF - timedelta(days=2), status="cancelled")
    completed_visit(beta, days_before=3.25)
    VisitFactory(customer=gamma, planned_start=AS_OF + timedelta(days=3))  # planned only: never visited
    VisitFactory(customer=gamma, planned_start=AS_OF - timedelta(days=3), status="missed")
    completed_visit(epsilon, days_before=30, rep=rep)
    completed_visit(delta, days_before=1)

    # Opportunities: open ones weigh amount * (hand-set probability, else stage default).
    OpportunityFactory(customer=alpha, amount=Decimal("10000.00"), stage=stage("discovery"))  # 0.10 -> 1,000
    OpportunityFactory(
        customer=alpha,
        amount=Decimal("20000.00"),
        stage=stage("communication"),
        probability=Decimal("0.500"),
        probability_manual=True,
    )  # hand-set 0.50 -> 10,000
    OpportunityFactory(customer=alpha, amount=Decimal("50000.00"), stage=stage("won"))  # closed: excluded
    OpportunityFactory(customer=alpha, amount=Decimal("30000.00"), stage=stage("lost"))  # closed: excluded
    OpportunityFactory(
        customer=beta, amount=Decimal("8000.00"), stage=stage("follow-up"), probability=Decimal("0.900")
    )  # not hand-set: the stage's 0.60 -> 4,800
    OpportunityFactory(customer=delta, amount=Decimal("90000.00"), stage=stage("follow-up"))

    inputs = {
        alpha.pk: {"tier": "A", "value": 120000.0, "days": 42.0, "cadence": 30, "pipeline": 11000.0,
                   "km": haversine_km(*PARIS, *VERSAILLES)},
        beta.pk: {"tier": "B", "value": 30000.0, "days": 3.25, "cadence": 14, "pipeline": 4800.0, "km": None},
        gamma.pk: {"tier": "C", "value": 0.0, "days": None, "cadence": 60, "pipeline": 0.0,
                   "km": haversine_km(*LILLE, *LYON)},
        epsilon.pk: {"tier": "B", "value": 500.0, "days": 30.0, "cadence": 30, "pipeline": 0.0, "km": None},
    }  # fmt: skip
    return World(alpha=alpha, beta=beta, gamma=gamma, epsilon=epsilon, delta=delta, far_rep=far_rep, inputs=inputs)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def expected_scores(inputs: dict, policy: dict = DEFAULT_POLICY) -> dict[int, dict[str, float]]:
    """T1..T6, P, T per customer id, from the spec's formulas written out by hand."""
    max_value = max(row["value"] for row in inputs.values())
    max_pipeline = max(row["pipeline"] for row in inputs.values())
    w1, w2, w3 = policy["weights"]
    result = {}
    for pk, row in inputs.items():
        t1 = math.log1p(row["value"]) / math.log1p(max_value) if max_value > 0 else 0.0
        t2 = 3.0 if row["days"] is None else min(row["days"] / row["cadence"], 3.0)
        t3 = math.log1p(row["pipeline"]) / math.log1p(max_pipeline) if max_pipeline > 0 else 0.0
        km = policy["default_km"] if row["km"] is None else row["km"]
        t4 = 0.25 + km / policy["speed_kmh"]
        t5 = policy["t5"][row["tier"]]
        t6 = policy["t6"][row["tier"]]
        p = (w1 * t1 + w2 * t2 + w3 * t3) / t4
        t = t5 + p * t6
        result[pk] = {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5, "t6": t6, "p": p, "t": t}
    return result


def bulk_customers(n: int, *, owner) -> list[int]:
    """n active customers, each with a completed visit and an open opportunity, in a few queries."""
    from sales.models import Opportunity
    from visits.models import Visit

    customers = Customer.objects.bulk_create(
        Customer(
            code=f"BULK{i:06d}",
            name=f"Bulk {i}",
            tier="ABC"[i % 3],
            owner=owner,
            annual_value=Decimal(1000 + i),
            visit_cadence_days=30,
            latitude=48.0 + i / 10000,
            longitude=2.0,
        )
        for i in range(n)
    )
    visits = []
    for i, customer in enumerate(customers):
        out = AS_OF - timedelta(days=1 + i % 50)
        visits.append(
            Visit(
                customer=customer,
                rep=owner,
                planned_start=out - timedelta(hours=1),
                status="completed",
                checked_in_at=out - timedelta(minutes=45),
                checked_out_at=out,
            )
        )
    Visit.objects.bulk_create(visits)
    discovery = stage("discovery")
    Opportunity.objects.bulk_create(
        Opportunity(customer=customer, owner=owner, amount=Decimal(100 * (i + 1)), stage=discovery)
        for i, customer in enumerate(customers)
    )
    return [customer.pk for customer in customers]
