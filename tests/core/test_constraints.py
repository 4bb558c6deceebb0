"""Invariants the database itself refuses to break, whatever code path writes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics.models import ScoringPolicy
from sales.models import Stage
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    OpportunityFactory,
    OrderFactory,
    RepProfileFactory,
    VisitFactory,
)


def refused(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


@pytest.mark.django_db
class TestRefusedByTheDatabase:
    @pytest.mark.parametrize("score", [0, 6])
    def test_satisfaction_outside_1_to_5(self, score):
        refused(VisitFactory, actual_satisfaction=score)
        refused(VisitFactory, expected_satisfaction=score)

    @pytest.mark.parametrize("score", [1, 5])
    def test_satisfaction_bounds_accepted(self, score):
        assert VisitFactory(actual_satisfaction=score, expected_satisfaction=score).pk

    def test_negative_amounts(self):
        refused(OpportunityFactory, amount=Decimal("-0.01"))
        refused(OrderFactory, amount=Decimal("-1"))
        refused(CustomerFactory, annual_value=Decimal("-5"))

    def test_cadence_and_planned_minutes_must_be_positive(self):
        refused(CustomerFactory, visit_cadence_days=0)
        refused(VisitFactory, planned_minutes=0)

    def test_customer_code_is_unique(self):
        CustomerFactory(code="ACME")
        refused(CustomerFactory, code="ACME")

    def test_more_needs_satisfied_than_raised(self):
        refused(VisitFactory, needs_raised=1, needs_satisfied=2)

    def test_completed_visit_needs_check_out_after_check_in(self):
        now = timezone.now()
        refused(VisitFactory, status="completed")
        refused(VisitFactory, checked_in_at=now, checked_out_at=now - timedelta(minutes=1))
        assert VisitFactory(status="completed", checked_in_at=now, checked_out_at=now + timedelta(hours=1)).pk

    def test_probability_is_a_fraction(self):
        refused(OpportunityFactory, probability=Decimal("1.5"))

    def test_one_primary_contact_per_customer(self):
        customer = CustomerFactory()
        ContactFactory(customer=customer, is_primary=True)
        refused(ContactFactory, customer=customer, is_primary=True)

    def test_coordinates_in_range(self):
        refused(CustomerFactory, latitude=91)
        refused(CustomerFactory, longitude=-181)
        refused(RepProfileFactory, home_latitude=-90.5)

    def test_working_days_and_hours(self):
        from datetime import time

        refused(RepProfileFactory, working_days=0)
        refused(RepProfileFactory, day_start=time(18, 0), day_end=time(9, 0))

    def test_only_one_active_policy(self):
        assert ScoringPolicy.objects.filter(active=True).count() == 1
        with pytest.raises(IntegrityError), transaction.atomic():
            ScoringPolicy.objects.create(version=2, active=True)

    def test_stage_cannot_be_won_and_lost(self):
        with pytest.raises(IntegrityError), transaction.atomic():
            Stage.objects.create(
                code="odd", name="Odd", order=9, default_probability=Decimal("0.5"), is_won=True, is_lost=True
            )


@pytest.mark.django_db
def test_default_stages_and_policy_match_the_spec():
    stages = list(Stage.objects.values_list("name", "default_probability", "is_won", "is_lost"))
    assert stages == [
        ("Discovery", Decimal("0.100"), False, False),
        ("Communication", Decimal("0.300"), False, False),
        ("Follow-up", Decimal("0.600"), False, False),
        ("Won", Decimal("1.000"), True, False),
        ("Lost", Decimal("0.000"), False, True),
    ]
    policy = ScoringPolicy.objects.get(active=True)
    assert (policy.w1, policy.w2, policy.w3) == (0.5, 0.3, 0.2)
    assert (policy.t5_a, policy.t5_b, policy.t5_c, policy.t6_a, policy.t6_b, policy.t6_c) == (60, 45, 30, 20, 15, 10)
    assert (policy.speed_kmh, policy.default_travel_km, policy.max_visit_minutes) == (40, 20, 120)
