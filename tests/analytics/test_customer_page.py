"""The Customer 360 page's analytics: the profile of spec section 6 and the ratios of section 2, by hand."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.utils import timezone

from analytics.bridge import load_profile360_inputs, local_day_starts
from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.selectors import (
    customer_profile360,
    customer_profiles360,
    customer_satisfaction_ratios,
    profile360_cache_forget,
)
from crm.models import Customer
from tests.factories import CustomerFactory, OpportunityFactory, OrderFactory, VisitFactory

AS_OF = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
MONTH_DAYS = 365.25 / 12
WINDOW_MONTHS = 365 / MONTH_DAYS  # a customer older than the window is observed for all of it


@pytest.fixture(autouse=True)
def fresh_cache():
    # The page keeps every customer's aggregates in the cache for a while; each test starts without them.
    profile360_cache_forget()
    yield
    profile360_cache_forget()


def store_t1(customer, t1: float) -> None:
    run = PlanRun.objects.create(kind=PlanRun.Kind.SCORES, status=PlanRun.Status.SUCCEEDED, as_of=AS_OF)
    CustomerScore.objects.create(
        customer=customer,
        run=run,
        policy=ScoringPolicy.objects.get(active=True),
        t1=t1,
        t2=0.0,
        t3=0.0,
        t4=1.0,
        t5=45.0,
        t6=15.0,
        p=0.5 * t1,
        t=45.0,
        computed_at=AS_OF,
    )


def created(customer, moment: datetime) -> None:
    Customer.objects.filter(pk=customer.pk).update(created_at=moment)


def completed(customer, out: datetime, **fields):
    return VisitFactory(
        customer=customer,
        planned_start=out - timedelta(hours=1),
        status="completed",
        checked_in_at=out - timedelta(minutes=50),
        checked_out_at=out,
        **fields,
    )


def order(customer, at: datetime):
    return OrderFactory(opportunity=OpportunityFactory(customer=customer), ordered_at=at)


@pytest.fixture
def trio(rep):
    """Three active customers and an inactive one, over the window (2024-06-30 12:00, 2025-06-30 12:00] UTC.

    anna: long-standing; 2 completed visits in the window with 4 + 2 needs and scores 4, 5;
          a missed visit (planned, not completed); a visit cancelled two days before its day
          (not planned); an old visit and an old order outside the window; 1 order in it; T1 1.0.
    bert: created 3 months before as_of; 1 completed visit, 1 need, no score given; T1 0.5.
    cleo: long-standing, nothing in the window, never scored.
    dora: inactive, with 100 needs on one visit: must not set the demand maximum.
    """
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    anna = CustomerFactory(code="ANNA", owner=rep)
    bert = CustomerFactory(code="BERT", owner=rep)
    cleo = CustomerFactory(code="CLEO", owner=rep)
    dora = CustomerFactory(code="DORA", owner=rep, status="inactive")
    created(anna, long_ago)
    created(bert, AS_OF - timedelta(days=3 * MONTH_DAYS))
    created(cleo, long_ago)
    created(dora, long_ago)

    completed(anna, datetime(2025, 5, 1, 15, tzinfo=UTC), needs_raised=4, actual_satisfaction=4)
    completed(anna, datetime(2025, 6, 1, 15, tzinfo=UTC), needs_raised=2, actual_satisfaction=5)
    VisitFactory(customer=anna, planned_start=datetime(2025, 6, 10, 9, tzinfo=UTC), status="missed")
    VisitFactory(
        customer=anna,
        planned_start=datetime(2025, 6, 20, 9, tzinfo=UTC),
        status="cancelled",
        cancelled_at=datetime(2025, 6, 18, 9, tzinfo=UTC),
    )
    completed(anna, datetime(2024, 1, 10, 15, tzinfo=UTC), needs_raised=9, actual_satisfaction=1)  # before
    VisitFactory(customer=anna, planned_start=AS_OF + timedelta(days=2))  # after as_of
    order(anna, datetime(2025, 3, 1, tzinfo=UTC))
    order(anna, datetime(2024, 1, 1, tzinfo=UTC))  # before the window
    store_t1(anna, 1.0)

    completed(bert, datetime(2025, 6, 15, 10, tzinfo=UTC), needs_raised=1)
    store_t1(bert, 0.5)

    completed(dora, datetime(2025, 6, 1, 15, tzinfo=UTC), needs_raised=100, actual_satisfaction=1)
    return anna, bert, cleo, dora


def dimensions(profile) -> dict:
    return {d.key: d.value for d in profile.dimensions}


def test_profile_of_three_customers_by_hand(rep, trio):
    anna, bert, cleo, _ = trio
    # Needs per completed visit: anna 6/2 = 3 (the maximum), bert 1/1, cleo none.
    # Visits + orders per month: anna (2 + 1) / 12 months of window, bert 1 / 3 months (the maximum), cleo 0.
    anna_rate, bert_rate = 3 / WINDOW_MONTHS, 1 / 3

    assert dimensions(customer_profile360(user=rep, customer_id=anna.pk, as_of=AS_OF)) == {
        "demand": pytest.approx(100.0),
        "behaviour": pytest.approx(100 * anna_rate / bert_rate),  # 75.05
        "value": pytest.approx(100.0),
        "relationship": pytest.approx(100 * 2 / 3),  # 2 completed of 3 planned (the missed one)
        "satisfaction": pytest.approx(25 * (4.5 - 1)),
    }
    assert dimensions(customer_profile360(user=rep, customer_id=bert.pk, as_of=AS_OF)) == {
        "demand": pytest.approx(100 / 3),
        "behaviour": pytest.approx(100.0),
        "value": pytest.approx(50.0),
        "relationship": pytest.approx(100.0),
        "satisfaction": None,  # no score given
    }
    assert dimensions(customer_profile360(user=rep, customer_id=cleo.pk, as_of=AS_OF)) == {
        "demand": None,
        "behaviour": 0.0,
        "value": None,  # never scored
        "relationship": None,
        "satisfaction": None,
    }


def test_bridge_aggregates_by_hand(trio):
    anna, bert, cleo, _ = trio

    inputs = load_profile360_inputs(as_of=AS_OF)

    assert inputs.customer_id.tolist() == sorted([anna.pk, bert.pk, cleo.pk])  # active only
    at = {pk: i for i, pk in enumerate(inputs.customer_id.tolist())}
    a, b, c = at[anna.pk], at[bert.pk], at[cleo.pk]
    assert inputs.needs_raised[[a, b, c]].tolist() == [6, 1, 0]
    assert inputs.completed_visits[[a, b, c]].tolist() == [2, 1, 0]
    assert inputs.orders[[a, b, c]].tolist() == [1, 0, 0]
    assert inputs.planned_visits[[a, b, c]].tolist() == [3, 1, 0]
    assert inputs.planned_completed[[a, b, c]].tolist() == [2, 1, 0]
    assert inputs.months_observed[[a, b, c]] == pytest.approx([WINDOW_MONTHS, 3.0, WINDOW_MONTHS])
    assert inputs.mean_actual_satisfaction[a] == 4.5
    assert np.isnan(inputs.mean_actual_satisfaction[[b, c]]).all()
    assert inputs.scored[[a, b, c]].tolist() == [True, True, False]
    assert inputs.t1[[a, b, c]].tolist() == [1.0, 0.5, 0.0]


def test_inactive_customer_gets_no_profile_and_sets_no_maximum(rep, trio):
    anna, _, _, dora = trio

    assert customer_profile360(user=rep, customer_id=dora.pk, as_of=AS_OF) is None
    ids, profile = customer_profiles360(as_of=AS_OF)
    assert dora.pk not in ids.tolist()
    assert np.nanmax(profile.demand) == pytest.approx(100.0)
    assert profile.demand[ids.tolist().index(anna.pk)] == pytest.approx(100.0)


def test_profile_is_scoped(other_rep, trio):
    anna = trio[0]

    with pytest.raises(Customer.DoesNotExist):
        customer_profile360(user=other_rep, customer_id=anna.pk, as_of=AS_OF)
    with pytest.raises(Customer.DoesNotExist):
        customer_satisfaction_ratios(user=other_rep, customer_id=anna.pk, as_of=AS_OF)


def test_profile_and_ratio_query_counts_do_not_grow(rep, trio, django_assert_max_num_queries):
    for n in range(20):
        customer = CustomerFactory(owner=rep)
        completed(customer, AS_OF - timedelta(days=n + 1), needs_raised=n % 3, actual_satisfaction=1 + n % 5)
        order(customer, AS_OF - timedelta(days=n + 2))
    anna = trio[0]

    # The user's groups (once, cached on the user), the customer, then customers, visit and order
    # aggregates twice: the customer's own, and everyone's (cached after the first call).
    with django_assert_max_num_queries(8):
        profile = customer_profile360(user=rep, customer_id=anna.pk, as_of=AS_OF)
    with django_assert_max_num_queries(4):
        customer_profile360(user=rep, customer_id=anna.pk, as_of=AS_OF)
    with django_assert_max_num_queries(2):  # the customer, its visits
        customer_satisfaction_ratios(user=rep, customer_id=anna.pk, as_of=AS_OF)

    assert profile.customers_compared == 23


def test_own_row_is_fresh_while_the_others_come_from_the_cache(rep, trio):
    anna, bert, cleo, _ = trio
    customer_profile360(user=rep, customer_id=bert.pk, as_of=AS_OF)  # fills the cache
    # bert: a second completed visit with 5 needs -> 6 needs on 2 visits = 3 a visit, as anna.
    completed(bert, datetime(2025, 6, 20, 10, tzinfo=UTC), needs_raised=5)
    # cleo: 30 needs on one visit, not seen until the cache expires.
    completed(cleo, datetime(2025, 6, 21, 10, tzinfo=UTC), needs_raised=30)

    cached = dimensions(customer_profile360(user=rep, customer_id=bert.pk, as_of=AS_OF))
    profile360_cache_forget()
    fresh = dimensions(customer_profile360(user=rep, customer_id=bert.pk, as_of=AS_OF))

    assert cached["demand"] == pytest.approx(100.0)  # 3 against anna's 3
    assert cached["behaviour"] == pytest.approx(100.0)  # 2 visits in 3 months
    assert fresh["demand"] == pytest.approx(10.0)  # 3 against cleo's 30
    assert fresh["behaviour"] == pytest.approx(100.0)


def test_ratios_of_a_customer_by_hand(rep, trio):
    anna = trio[0]

    ratios = {line.key: line.value for line in customer_satisfaction_ratios(user=rep, customer_id=anna.pk, as_of=AS_OF)}

    # Completed: 3 visits (incl. the 2024 one), needs 4 + 2 + 9, none satisfied; scores but no expectations.
    # Planned by as_of: the 3 completed and the missed one (the early cancellation is left out, the
    # visit after as_of is not due yet): 3 of 4. Policy: check-in 10 min after the planned start, no report.
    assert ratios == {"need": 0.0, "expectation": None, "plan": 75.0, "policy": 0.0}


def test_local_day_starts_across_a_dst_change():
    paris = ZoneInfo("Europe/Paris")
    instants = [
        datetime(2025, 3, 29, 22, 59, tzinfo=UTC),  # 23:59 on the 29th in Paris (UTC+1)
        datetime(2025, 3, 29, 23, 0, tzinfo=UTC),  # 00:00 on the 30th
        datetime(2025, 3, 30, 21, 59, tzinfo=UTC),  # 23:59 on the 30th (UTC+2 since 02:00)
        datetime(2025, 3, 30, 22, 0, tzinfo=UTC),  # 00:00 on the 31st
    ]

    starts = local_day_starts(np.array([moment.timestamp() for moment in instants]), paris)

    assert [datetime.fromtimestamp(s, UTC) for s in starts] == [
        datetime(2025, 3, 28, 23, 0, tzinfo=UTC),
        datetime(2025, 3, 29, 23, 0, tzinfo=UTC),
        datetime(2025, 3, 29, 23, 0, tzinfo=UTC),
        datetime(2025, 3, 30, 22, 0, tzinfo=UTC),
    ]
    assert local_day_starts(np.empty(0), paris).shape == (0,)


def test_default_as_of_is_now(rep, trio):
    bert = trio[1]

    profile = customer_profile360(user=rep, customer_id=bert.pk)

    assert abs(profile.as_of - timezone.now()) < timedelta(minutes=1)
