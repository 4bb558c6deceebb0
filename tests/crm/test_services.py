"""customer_reassign: what moves (customers, unconfirmed planner visits), what stays, who may do it."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.models import Customer
from crm.services import customer_reassign
from tests.factories import CustomerFactory, RepProfileFactory, UserFactory, VisitFactory
from visits.models import Visit


def owners(*customers) -> list[str]:
    return [Customer.objects.get(pk=c.pk).owner.username for c in customers]


def test_moves_the_selected_customers_and_counts_only_real_changes(admin_user, rep, teammate):
    # given two of the rep's customers, one already owned by the target and one not selected
    first = CustomerFactory(owner=rep)
    second = CustomerFactory(owner=rep)
    already = CustomerFactory(owner=teammate)
    untouched = CustomerFactory(owner=rep)

    # when
    count = customer_reassign(
        customer_ids=[first.pk, second.pk, already.pk], new_owner=teammate, reassigned_by=admin_user
    )

    # then
    assert count == 2
    assert owners(first, second, already) == ["rep_north_2"] * 3
    assert owners(untouched) == ["rep_north"]


def test_unowned_customers_get_an_owner(admin_user, rep):
    orphan = CustomerFactory(owner=None)
    assert customer_reassign(customer_ids=[orphan.pk], new_owner=rep, reassigned_by=admin_user) == 1
    assert owners(orphan) == ["rep_north"]


def test_only_future_unconfirmed_planner_visits_follow_the_customer(admin_user, rep, teammate):
    customer = CustomerFactory(owner=rep)
    other_customer = CustomerFactory(owner=rep)
    now = timezone.now()
    tomorrow = now + timedelta(days=1)
    moved = VisitFactory(customer=customer, rep=rep, planned_start=tomorrow, origin="planner", status="planned")
    kept = {
        "manual": VisitFactory(customer=customer, rep=rep, planned_start=tomorrow, origin="manual"),
        "confirmed": VisitFactory(
            customer=customer, rep=rep, planned_start=tomorrow, origin="planner", status="confirmed"
        ),
        "past planned": VisitFactory(
            customer=customer, rep=rep, planned_start=now - timedelta(days=2), origin="planner", status="planned"
        ),
        "completed": VisitFactory(
            customer=customer,
            rep=rep,
            planned_start=now - timedelta(days=5),
            origin="planner",
            status="completed",
            checked_in_at=now - timedelta(days=5),
            checked_out_at=now - timedelta(days=5) + timedelta(minutes=40),
        ),
        "checked in": VisitFactory(
            customer=customer,
            rep=rep,
            planned_start=now - timedelta(minutes=10),
            origin="planner",
            status="checked_in",
            checked_in_at=now - timedelta(minutes=5),
        ),
        "not selected": VisitFactory(
            customer=other_customer, rep=rep, planned_start=tomorrow, origin="planner", status="planned"
        ),
    }

    customer_reassign(customer_ids=[customer.pk], new_owner=teammate, reassigned_by=admin_user)

    assert Visit.objects.get(pk=moved.pk).rep == teammate
    reps_after = {label: Visit.objects.get(pk=visit.pk).rep.username for label, visit in kept.items()}
    assert reps_after == dict.fromkeys(kept, "rep_north")


@pytest.mark.parametrize(
    "make_target",
    [
        pytest.param(lambda: UserFactory(username="gone", role="Rep", is_active=False), id="inactive rep"),
        pytest.param(lambda: UserFactory(username="boss", role="Manager"), id="manager"),
        pytest.param(lambda: UserFactory(username="nobody"), id="no role"),
    ],
)
def test_refuses_a_target_who_is_not_an_active_rep(admin_user, rep, make_target):
    customer = CustomerFactory(owner=rep)
    visit = VisitFactory(customer=customer, origin="planner")
    target = make_target()

    with pytest.raises(ValidationError) as excinfo:
        customer_reassign(customer_ids=[customer.pk], new_owner=target, reassigned_by=admin_user)

    assert excinfo.value.code == "invalid_owner"
    assert "is not an active rep" in excinfo.value.messages[0]
    assert owners(customer) == ["rep_north"]
    assert Visit.objects.get(pk=visit.pk).rep == rep


def test_a_manager_reassigns_within_the_teams_they_manage(manager, rep, teammate):
    customer = CustomerFactory(owner=rep)
    assert customer_reassign(customer_ids=[customer.pk], new_owner=teammate, reassigned_by=manager) == 1
    assert owners(customer) == ["rep_north_2"]


def test_a_manager_cannot_give_customers_to_another_teams_rep(manager, rep, other_rep):
    customer = CustomerFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        customer_reassign(customer_ids=[customer.pk], new_owner=other_rep, reassigned_by=manager)
    assert owners(customer) == ["rep_north"]


def test_a_manager_cannot_take_another_teams_customers(manager, teammate, other_rep):
    foreign = CustomerFactory(owner=other_rep)
    with pytest.raises(PermissionDenied):
        customer_reassign(customer_ids=[foreign.pk], new_owner=teammate, reassigned_by=manager)
    assert owners(foreign) == ["rep_south"]


def test_a_rep_cannot_reassign(rep, teammate):
    customer = CustomerFactory(owner=rep)
    with pytest.raises(PermissionDenied):
        customer_reassign(customer_ids=[customer.pk], new_owner=teammate, reassigned_by=rep)
    assert owners(customer) == ["rep_north"]


def test_staff_with_the_change_permission_may_reassign(rep, db):
    from django.contrib.auth.models import Permission

    clerk = UserFactory(username="clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="change_customer", content_type__app_label="crm"))
    target = RepProfileFactory(user__username="rep_west").user
    customer = CustomerFactory(owner=rep)

    assert customer_reassign(customer_ids=[customer.pk], new_owner=target, reassigned_by=clerk) == 1
    assert owners(customer) == ["rep_west"]
