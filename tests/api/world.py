"""A small company for the API tests: two teams, their reps and a manager, customers with
contacts, visits in every state, follow-ups, a pipeline with an order, and scores."""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from analytics.services import scores_recalculate
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    FollowUpFactory,
    OpportunityFactory,
    OrderFactory,
    RepProfileFactory,
    TeamFactory,
    UserFactory,
    VisitFactory,
    stage,
)
from visits.models import Visit


def _won_with_order(customer, now):
    won_at = now - timedelta(days=3)
    opportunity = OpportunityFactory(
        customer=customer, stage=stage("won"), opened_at=now - timedelta(days=20), closed_at=won_at
    )
    return OrderFactory(opportunity=opportunity, amount=opportunity.amount, ordered_at=won_at)


@dataclass
class World:
    rep: object
    teammate: object
    other_rep: object
    manager: object
    admin: object
    customer: object  # the rep's
    other_customer: object  # other_rep's (another team)
    visit_today: object  # the rep's, confirmed, today: it can be checked in
    visit_checked_in: object
    visit_completed: object  # checked out, no report yet
    visit_future: object  # planned next week
    other_visit: object  # other_rep's
    follow_up: object
    other_follow_up: object
    opportunity: object
    other_opportunity: object
    order: object
    other_order: object


def build_world(*, score: bool = True) -> World:
    now = timezone.now()
    north, south = TeamFactory(name="North"), TeamFactory(name="South")
    rep = RepProfileFactory(team=north, user__username="rep_north").user
    teammate = RepProfileFactory(team=north, user__username="rep_north_2").user
    other_rep = RepProfileFactory(team=south, user__username="rep_south").user
    manager = UserFactory(username="manager_north", role="Manager")
    north.managers.add(manager)
    admin = UserFactory(username="admin", role="Admin", is_staff=True, is_superuser=True)

    customer = CustomerFactory(owner=rep, name="Boulangerie Martin", latitude=48.853, longitude=2.35)
    CustomerFactory(owner=rep, name="Café Lune", tier="A")
    CustomerFactory(owner=teammate, name="Fromagerie Nord")
    other_customer = CustomerFactory(owner=other_rep, name="Sud Traiteur")
    ContactFactory(customer=customer, name="Marie Martin", is_primary=True)
    ContactFactory(customer=other_customer, name="Paul Sud")

    today = now.replace(microsecond=0)
    visit_today = VisitFactory(customer=customer, planned_start=today, status=Visit.Status.CONFIRMED)
    visit_checked_in = VisitFactory(
        customer=customer,
        planned_start=today - timedelta(minutes=30),
        status=Visit.Status.CHECKED_IN,
        checked_in_at=today - timedelta(minutes=25),
        check_in_result=Visit.CheckInResult.UNVERIFIED,
    )
    visit_completed = VisitFactory(
        customer=customer,
        planned_start=today - timedelta(days=2),
        status=Visit.Status.COMPLETED,
        checked_in_at=today - timedelta(days=2),
        checked_out_at=today - timedelta(days=2) + timedelta(minutes=40),
        check_in_result=Visit.CheckInResult.UNVERIFIED,
    )
    visit_future = VisitFactory(customer=customer, planned_start=today + timedelta(days=7))
    other_visit = VisitFactory(customer=other_customer, planned_start=today, status=Visit.Status.CONFIRMED)
    follow_up = FollowUpFactory(visit=visit_completed, title="Send the price list")
    other_follow_up = FollowUpFactory(visit=other_visit, title="Call back")

    opened = now - timedelta(days=5)
    opportunity = OpportunityFactory(customer=customer, opened_at=opened)
    other_opportunity = OpportunityFactory(customer=other_customer, opened_at=opened)
    order = _won_with_order(customer, now)
    other_order = _won_with_order(other_customer, now)
    if score:
        scores_recalculate(as_of=now)
    return World(
        rep=rep,
        teammate=teammate,
        other_rep=other_rep,
        manager=manager,
        admin=admin,
        customer=customer,
        other_customer=other_customer,
        visit_today=visit_today,
        visit_checked_in=visit_checked_in,
        visit_completed=visit_completed,
        visit_future=visit_future,
        other_visit=other_visit,
        follow_up=follow_up,
        other_follow_up=other_follow_up,
        opportunity=opportunity,
        other_opportunity=other_opportunity,
        order=order,
        other_order=other_order,
    )
