"""The planner's batched steps give what the per-stop ones gave: reach from the nearest chosen stop, terms of P."""

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.run_compute import priority_terms
from tests.factories import CustomerFactory, RepProfileFactory
from visits.models import Visit
from visits.planner import DayWindow, plan_days
from visits.services import plans_build

UTC = ZoneInfo("UTC")
AS_OF = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # a Monday; TIME_ZONE is UTC in tests


def test_a_candidate_is_reached_from_the_nearest_stop_already_chosen():
    # Base -> A 30, base -> B 60 but A -> B 5, C 50 from everywhere; a 100-minute day.
    # A: 0 + 30 + 20 = 50 used. B: reached from A, 50 + 5 + 40 = 95 <= 100 (from the base: 150).
    # C: 95 + 50 + 10 > 100, so it waits for day 2.
    travel = np.array(
        [[0, 30, 60, 50], [30, 0, 5, 50], [60, 5, 0, 50], [50, 50, 50, 0]],
        dtype=float,
    )
    stops = plan_days(
        days=[DayWindow(0, 100), DayWindow(0, 100)],
        priority=np.array([3.0, 2.0, 1.0]),
        minutes=np.array([20.0, 40.0, 10.0]),
        travel_minutes=travel,
    )
    assert [(s.candidate, s.day, s.start_minute, s.travel_minutes) for s in stops] == [
        (0, 0, 30.0, 30.0),
        (1, 0, 55.0, 5.0),
        (2, 1, 50.0, 50.0),
    ]


@pytest.fixture
def run(db):
    policy = ScoringPolicy.objects.get(active=True)
    return PlanRun.objects.create(kind=PlanRun.Kind.PLANS, status=PlanRun.Status.RUNNING, as_of=AS_OF, policy=policy)


def test_every_visit_reason_holds_the_terms_of_its_own_score(run):
    # Six customers with different T1..T4: each visit's terms are the kernel's split of its P.
    profile = RepProfileFactory(home_latitude=48.8566, home_longitude=2.3522)
    rows = [(0.9, 0.1, 0.0, 1.0), (0.2, 1.5, 0.3, 2.0), (0.0, 0.0, 0.8, 0.5), (1.1, 0.4, 0.2, 3.0)]
    rows += [(0.3, 0.3, 0.3, 1.0), (2.0, 0.0, 0.1, 4.0)]
    weights = (run.policy.w1, run.policy.w2, run.policy.w3)
    for index, (t1, t2, t3, t4) in enumerate(rows):
        customer = CustomerFactory(owner=profile.user, latitude=48.86 + index / 100, longitude=2.35, code=f"B{index}")
        p = (weights[0] * t1 + weights[1] * t2 + weights[2] * t3) / t4
        CustomerScore.objects.create(
            customer=customer, run=run, policy=run.policy, t1=t1, t2=t2, t3=t3, t4=t4, t5=30, t6=10, p=p, t=30.0,
            computed_at=AS_OF,
        )  # fmt: skip
    assert plans_build(rep_ids=[profile.user_id], as_of=AS_OF, run=run) == 6

    names = ("value", "urgency", "pipeline")
    for visit in Visit.objects.filter(rep=profile.user).select_related("customer__score"):
        s = visit.customer.score
        expected = priority_terms(t1=s.t1, t2=s.t2, t3=s.t3, t4=s.t4, weights=weights).tolist()
        got = {term["term"]: term["contribution"] for term in visit.plan_reason["terms"]}
        assert got == {name: round(value, 6) for name, value in zip(names, expected, strict=True)}
        assert [term["contribution"] for term in visit.plan_reason["terms"]] == sorted(got.values(), reverse=True)
        assert visit.plan_reason["effort_hours"] == round(s.t4, 4)
