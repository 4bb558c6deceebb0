"""`bridge.load_won_sales`: the won deals of some months and the first close, in one query."""

import math
from datetime import datetime
from decimal import Decimal

import pytest

from analytics import bridge
from sales.models import Stage
from tests.analytics.kpi_world import D0, day, opportunity
from tests.factories import CustomerFactory, RepProfileFactory

FROM, UNTIL = day(-59), D0  # [2025-01-01, 2025-03-01)


def rep_with_customer(username: str):
    rep = RepProfileFactory(user__username=username).user
    return rep, CustomerFactory(owner=rep)


@pytest.fixture
def reps(db):
    ann, ann_customer = rep_with_customer("ann")
    opportunity(ann, ann_customer, 100, [("discovery", -45), ("won", -40)])
    opportunity(ann, ann_customer, 250, [("discovery", -45), ("follow-up", -20), ("won", -10)])
    opportunity(ann, ann_customer, 7, [("discovery", -60), ("won", -59)])  # on the window's start: in
    opportunity(ann, ann_customer, 1_000, [("discovery", -5), ("won", 0)])  # on its end: after
    opportunity(ann, ann_customer, 2_000, [("discovery", -80), ("won", -70)])  # before
    opportunity(ann, ann_customer, 30, [("discovery", -95), ("lost", -90)])  # lost: her first close
    opportunity(ann, ann_customer, 60, [("discovery", -40), ("lost", -30)])  # lost in the window
    opportunity(ann, ann_customer, 90, [("discovery", -200), ("communication", -20)])  # open
    bob, bob_customer = rep_with_customer("bob")
    opportunity(bob, bob_customer, 40, [("discovery", -25), ("won", -20)])
    opportunity(bob, bob_customer, 50, [("discovery", -130), ("lost", -120)])  # everybody's first close
    return ann, bob


def test_the_won_deals_closed_in_the_window_ids_ascending_and_the_first_close_of_any_outcome(reps):
    ann, _ = reps

    sales = bridge.load_won_sales(owner_ids=[ann.pk], closed_from=FROM, closed_until=UNTIL)

    assert sales.amount.tolist() == [100.0, 250.0, 7.0]
    assert sales.closed_at.tolist() == [day(n).timestamp() for n in (-40, -10, -59)]
    assert sales.first_close == day(-90).timestamp()  # her lost deal, before the window


def test_everybody_and_no_owner_at_all(reps):
    everybody = bridge.load_won_sales(owner_ids=None, closed_from=FROM, closed_until=UNTIL)
    nobody = bridge.load_won_sales(owner_ids=[], closed_from=FROM, closed_until=UNTIL)

    assert everybody.amount.tolist() == [100.0, 250.0, 7.0, 40.0]
    assert everybody.first_close == day(-120).timestamp()
    assert len(nobody) == 0
    assert math.isnan(nobody.first_close)


def test_a_first_close_won_in_the_window_is_loaded_once(db):
    cy, customer = rep_with_customer("cy")
    opportunity(cy, customer, 5, [("discovery", -40), ("won", -30)])
    opportunity(cy, customer, 9, [("discovery", -40)])  # open

    sales = bridge.load_won_sales(owner_ids=[cy.pk], closed_from=FROM, closed_until=UNTIL)

    assert sales.amount.tolist() == [5.0]
    assert sales.first_close == day(-30).timestamp()


def test_nothing_closed_yet(db):
    cy, customer = rep_with_customer("cy")
    opportunity(cy, customer, 9, [("discovery", -40), ("follow-up", -30)])

    sales = bridge.load_won_sales(owner_ids=[cy.pk], closed_from=FROM, closed_until=UNTIL)

    assert len(sales) == 0
    assert math.isnan(sales.first_close)


def test_won_is_the_stage_flag_not_its_code(db):
    Stage.objects.create(
        code="renewed", name="Renewed", order=9, default_probability=Decimal("1.000"), is_won=True
    )  # a second won stage an admin added
    cy, customer = rep_with_customer("cy")
    opportunity(cy, customer, 11, [("discovery", -40), ("renewed", -30)])

    sales = bridge.load_won_sales(owner_ids=[cy.pk], closed_from=FROM, closed_until=UNTIL)

    assert sales.amount.tolist() == [11.0]


def test_one_query(reps, django_assert_num_queries):
    ann, bob = reps

    with django_assert_num_queries(1):
        bridge.load_won_sales(owner_ids=[ann.pk, bob.pk], closed_from=FROM, closed_until=UNTIL)
    with django_assert_num_queries(1):
        bridge.load_won_sales(owner_ids=None, closed_from=FROM, closed_until=UNTIL)


def test_naive_bounds_are_refused(db):
    with pytest.raises(ValueError, match="closed_from must be timezone-aware"):
        bridge.load_won_sales(owner_ids=None, closed_from=datetime(2025, 1, 1), closed_until=UNTIL)  # noqa: DTZ001
