"""Who may see what: rep -> own, manager -> the reps of the teams they manage, admin -> all."""

import pytest

from crm.models import Customer
from crm.selectors import customer_get_for_user, customer_list_for_user
from sales.selectors import opportunity_list_for_user
from tests.factories import CustomerFactory, OpportunityFactory, UserFactory, VisitFactory
from visits.selectors import visit_list_for_user


@pytest.fixture
def book(rep, teammate, other_rep):
    return {
        "mine": CustomerFactory(owner=rep, code="MINE"),
        "teammate": CustomerFactory(owner=teammate, code="TEAM"),
        "other": CustomerFactory(owner=other_rep, code="OTHER"),
    }


def codes(queryset):
    return set(queryset.values_list("code", flat=True))


def test_rep_sees_only_own_customers(rep, book):
    assert codes(customer_list_for_user(user=rep)) == {"MINE"}


def test_rep_cannot_reach_another_reps_customer(rep, book):
    with pytest.raises(Customer.DoesNotExist):
        customer_get_for_user(user=rep, pk=book["teammate"].pk)


def test_manager_sees_the_team_not_other_teams(manager, book):
    assert codes(customer_list_for_user(user=manager)) == {"MINE", "TEAM"}
    with pytest.raises(Customer.DoesNotExist):
        customer_get_for_user(user=manager, pk=book["other"].pk)


def test_admin_sees_everything(admin_user, book):
    assert codes(customer_list_for_user(user=admin_user)) == {"MINE", "TEAM", "OTHER"}


def test_user_without_role_sees_nothing(db, book):
    assert codes(customer_list_for_user(user=UserFactory(username="nobody"))) == set()


def test_visits_and_opportunities_follow_the_same_scope(rep, manager, book):
    VisitFactory(customer=book["mine"])
    VisitFactory(customer=book["other"])
    OpportunityFactory(customer=book["teammate"])
    assert {v.customer.code for v in visit_list_for_user(user=rep)} == {"MINE"}
    assert opportunity_list_for_user(user=rep).count() == 0
    assert opportunity_list_for_user(user=manager).count() == 1


def test_scoped_list_query_count_is_bounded(manager, book, django_assert_max_num_queries):
    CustomerFactory.create_batch(20, owner=book["mine"].owner)
    with django_assert_max_num_queries(2):
        rows = [(c.code, c.owner.username) for c in customer_list_for_user(user=manager)]
    assert len(rows) == 22
