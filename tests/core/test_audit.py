"""The audit trail (issue 8): who changed a customer, visit, opportunity or scoring policy, what and when.

Recorded through forms, the admin and services; shown read-only in the admin and, for
managers and admins, on the customer page; never written by the bulk machine paths.
"""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import PlanRun, ScoringPolicy
from api.tokens import api_token_create
from core.audit import audit_trail_is_paused, audit_trail_paused
from crm.change_history import customer_change_history
from crm.models import Customer
from crm.services import customer_reassign
from sales.models import Opportunity
from tests.factories import CustomerFactory, OpportunityFactory, ProductFactory, VisitFactory, stage
from visits.models import Visit
from visits.services import rep_plan_swap

HistoricalCustomer = Customer.history.model
HistoricalVisit = Visit.history.model
HistoricalOpportunity = Opportunity.history.model
HistoricalScoringPolicy = ScoringPolicy.history.model


def changed_fields(record) -> dict[str, tuple]:
    """field -> (before, after) between a history record and the one before it."""
    delta = record.diff_against(record.prev_record)
    return {change.field: (change.old, change.new) for change in delta.changes}


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def detail_url(customer) -> str:
    return reverse("crm:customer_detail", args=[customer.pk])


def save_as(obj, user, **changes):
    """A change made by `user` outside a request (how a task or the shell names the user)."""
    for name, value in changes.items():
        setattr(obj, name, value)
    obj._history_user = user
    obj.save()
    del obj._history_user
    return obj


# --- Recording ---------------------------------------------------------------------------


def test_a_visit_cancelled_on_the_calendar_records_who_what_and_when(client, manager, rep):
    visit = VisitFactory(customer=CustomerFactory(owner=rep), rep=rep)
    before = timezone.now()
    client.force_login(manager)

    client.post(reverse("visits:visit_cancel", args=[visit.pk]), {"reason": "Rep ill"})

    record = HistoricalVisit.objects.filter(id=visit.pk).latest()
    assert (record.history_type, record.history_user) == ("~", manager)
    assert before <= record.history_date <= timezone.now()
    changes = changed_fields(record)
    assert set(changes) == {"status", "cancelled_at", "cancel_reason"}
    assert changes["status"] == ("planned", "cancelled")
    assert changes["cancel_reason"] == ("", "Rep ill")


def test_a_visit_cancelled_through_the_api_records_the_tokens_user(rep):
    # DRF authenticates the token inside the view; the history still gets that user.
    visit = VisitFactory(customer=CustomerFactory(owner=rep), rep=rep)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=rep, name='audit test').secret}")

    response = client.post(f"/api/v1/visits/{visit.pk}/cancel/", {"reason": "Customer on holiday"}, format="json")

    assert response.status_code == 200
    record = HistoricalVisit.objects.filter(id=visit.pk).latest()
    assert (record.history_type, record.history_user) == ("~", rep)
    assert changed_fields(record)["cancel_reason"] == ("", "Customer on holiday")


def test_a_reassignment_records_the_owner_change_and_who_made_it(manager, rep, teammate):
    moved = CustomerFactory(owner=rep)
    already = CustomerFactory(owner=teammate)

    assert customer_reassign(customer_ids=[moved.pk, already.pk], new_owner=teammate, reassigned_by=manager) == 1

    record = HistoricalCustomer.objects.filter(id=moved.pk).latest()
    assert (record.history_type, record.history_user) == ("~", manager)
    assert changed_fields(record) == {"owner": (rep.pk, teammate.pk)}
    # The customer the target already owned was not changed, so nothing is recorded for it.
    assert list(HistoricalCustomer.objects.filter(id=already.pk).values_list("history_type", flat=True)) == ["+"]


def test_moving_an_opportunity_in_the_admin_records_the_admin_and_the_stage(client, admin_user):
    opportunity = OpportunityFactory()
    opened = timezone.localtime(opportunity.opened_at)
    client.force_login(admin_user)
    response = client.post(
        admin_url(Opportunity, "change", opportunity.pk),
        {
            "customer": opportunity.customer_id,
            "owner": opportunity.owner_id,
            "product": opportunity.product_id,
            "amount": "5000.00",
            "stage": stage("follow-up").pk,
            "probability": "0.600",
            "opened_at_0": opened.strftime("%Y-%m-%d"),
            "opened_at_1": opened.strftime("%H:%M:%S"),
            "stage_changes-TOTAL_FORMS": "0",
            "stage_changes-INITIAL_FORMS": "0",
            "stage_changes-MIN_NUM_FORMS": "0",
            "stage_changes-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 302
    record = HistoricalOpportunity.objects.filter(id=opportunity.pk).latest()
    assert record.history_user == admin_user
    changes = changed_fields(record)
    assert changes["stage"] == (stage("discovery").pk, stage("follow-up").pk)
    assert changes["probability"] == (stage("discovery").default_probability, Decimal("0.600"))


def test_activating_a_policy_in_the_admin_records_both_switches(client, admin_user):
    draft = ScoringPolicy.objects.create(version=2, w1=0.6, w2=0.2, w3=0.2)
    client.force_login(admin_user)

    client.post(admin_url(ScoringPolicy, "changelist"), {"action": "activate", ACTION_CHECKBOX_NAME: [draft.pk]})

    records = HistoricalScoringPolicy.objects.filter(history_type="~").order_by("version")
    assert [(r.version, r.active, r.history_user) for r in records] == [(1, False, admin_user), (2, True, admin_user)]


def test_a_paused_trail_records_nothing_and_resumes_after(db):
    with audit_trail_paused():
        assert audit_trail_is_paused()
        customer = CustomerFactory()
        customer.name = "Renamed"
        customer.save()
    assert not audit_trail_is_paused()
    assert not HistoricalCustomer.objects.filter(id=customer.pk).exists()
    customer.save()
    assert list(HistoricalCustomer.objects.filter(id=customer.pk).values_list("history_type", flat=True)) == ["~"]


# --- Bulk machine paths ------------------------------------------------------------------


def _planner_visits(rep, customer, count, start):
    run = PlanRun.objects.create(kind=PlanRun.Kind.PLANS, status=PlanRun.Status.RUNNING, as_of=start)
    return [
        Visit(
            customer=customer,
            rep=rep,
            planned_start=start + timedelta(hours=index),
            planned_minutes=30,
            origin=Visit.Origin.PLANNER,
            plan_run=run,
        )
        for index in range(count)
    ]


@pytest.mark.parametrize("stale_count", [2, 12])
def test_the_plan_swap_writes_no_history_and_its_queries_do_not_grow(rep, stale_count):
    customer = CustomerFactory(owner=rep)
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    days = [start.date()]
    rep_plan_swap(rep_id=rep.pk, days=days, as_of=start, visits=_planner_visits(rep, customer, stale_count, start))
    assert Visit.objects.filter(rep=rep).count() == stale_count
    history_before = HistoricalVisit.objects.count()

    fresh = _planner_visits(rep, customer, 3, start)
    with CaptureQueriesContext(connection) as swap:
        created = rep_plan_swap(rep_id=rep.pk, days=days, as_of=start, visits=fresh)

    assert created == 3
    assert Visit.objects.filter(rep=rep).count() == 3
    assert HistoricalVisit.objects.count() == history_before  # neither the deletes nor the inserts
    # Savepoint, profile lock, window read, collect + cascade + delete, fixed-visit read, insert, release:
    # the same for 2 or 12 replaced visits (no reload or history row per visit).
    assert len(swap) <= 10, [q["sql"] for q in swap.captured_queries]


def test_seeding_the_demo_writes_no_history(db):
    call_command("seed_demo", "--customers", "300", "--as-of", "2025-06-30", stdout=StringIO())
    assert Customer.objects.count() == 300
    assert Visit.objects.exists()
    assert Opportunity.objects.exists()
    for history in (HistoricalCustomer, HistoricalVisit, HistoricalOpportunity):
        assert not history.objects.exists()


# --- Admin -------------------------------------------------------------------------------

OBJECTS = {
    Customer: CustomerFactory,
    Visit: VisitFactory,
    Opportunity: OpportunityFactory,
    ScoringPolicy: lambda: ScoringPolicy.objects.create(version=2),
}


@pytest.mark.parametrize("model", list(OBJECTS), ids=lambda model: model._meta.label)
def test_admin_history_page_lists_the_changes(client, admin_user, model):
    obj = OBJECTS[model]()
    save_as(obj, admin_user)
    client.force_login(admin_user)

    listing = client.get(admin_url(model, "history", obj.pk))
    version = client.get(admin_url(model, "simple_history", obj.pk, obj.history.earliest().history_id))

    assert listing.status_code == 200
    assert [record.history_type for record in listing.context["page_obj"]] == ["~", "+"]
    assert version.status_code == 200
    assert 'name="_save"' not in version.text  # read-only: no Revert button


def test_an_old_version_cannot_be_posted_back(client, admin_user):
    # A policy in use is read-only in the admin; its old version must not come back through the history.
    policy = ScoringPolicy.objects.create(version=2, w1=0.5)
    first = policy.history.get()
    save_as(policy, admin_user, w1=0.9)
    PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES, status=PlanRun.Status.SUCCEEDED, as_of=timezone.now(), policy=policy
    )
    client.force_login(admin_user)

    response = client.post(admin_url(ScoringPolicy, "simple_history", policy.pk, first.history_id), {"w1": "0.5"})

    assert response.status_code == 403
    policy.refresh_from_db()
    assert policy.w1 == 0.9


def test_a_used_policy_stays_read_only_in_its_change_page(client, admin_user):
    policy = ScoringPolicy.objects.get(active=True)
    PlanRun.objects.create(
        kind=PlanRun.Kind.SCORES, status=PlanRun.Status.SUCCEEDED, as_of=timezone.now(), policy=policy
    )
    client.force_login(admin_user)
    page = client.get(admin_url(ScoringPolicy, "change", policy.pk))
    assert page.status_code == 200
    assert {"w1", "w2", "w3"} <= set(page.context["adminform"].readonly_fields)
    assert admin_url(ScoringPolicy, "history", policy.pk) in page.text


# --- Customer page -----------------------------------------------------------------------


@pytest.fixture
def busy_customer(rep, teammate, manager, admin_user):
    """A customer changed by three people through the three kinds of record, in a known order."""
    customer = CustomerFactory(owner=rep, name="Acme Tools", tier="B")
    visit = VisitFactory(customer=customer, rep=rep)
    opportunity = OpportunityFactory(customer=customer, product=ProductFactory(name="Drill X"), amount=Decimal("5000"))
    save_as(customer, rep, tier="A")
    save_as(visit, rep, goal="Demo the <b>new</b> drill")
    save_as(opportunity, admin_user, stage=stage("communication"), amount=Decimal("7500.00"))
    customer_reassign(customer_ids=[customer.pk], new_owner=teammate, reassigned_by=manager)
    return customer, visit, opportunity


def test_a_manager_sees_who_changed_what_on_the_customer_page(
    client, manager, rep, teammate, admin_user, busy_customer
):
    customer, visit, opportunity = busy_customer
    client.force_login(manager)

    response = client.get(detail_url(customer))

    assert response.status_code == 200
    entries = response.context["history"]
    summary = [(e.subject_type, e.kind, e.user, [(c.label, c.old, c.new) for c in e.changes]) for e in entries]
    assert summary == [
        ("customer", "~", manager, [("owner rep", str(rep), str(teammate))]),
        ("opportunity", "~", admin_user, [("amount", "5000.00", "7500.00"), ("stage", "Discovery", "Communication")]),
        ("visit", "~", rep, [("goal", "—", "Demo the <b>new</b> drill")]),
        ("customer", "~", rep, [("tier", "B", "A (key account)")]),
        ("opportunity", "+", None, []),
        ("visit", "+", None, []),
        ("customer", "+", None, []),
    ]
    assert entries[1].subject == "Opportunity: Drill X"
    html = response.text
    assert 'data-testid="customer-history"' in html
    # User input is escaped, never rendered as markup.
    assert "Demo the &lt;b&gt;new&lt;/b&gt; drill" in html
    assert "<b>new</b>" not in html


def test_an_admin_sees_the_history_too(client, admin_user, busy_customer):
    customer, _visit, _opportunity = busy_customer
    client.force_login(admin_user)
    response = client.get(detail_url(customer))
    assert len(response.context["history"]) == 7


def test_a_rep_does_not_see_the_history(client, teammate, busy_customer):
    customer, _visit, _opportunity = busy_customer  # the teammate owns it since the reassignment
    client.force_login(teammate)

    response = client.get(detail_url(customer))

    assert response.status_code == 200
    assert "history" not in response.context
    assert 'data-testid="customer-history"' not in response.text


def test_a_change_of_a_bulk_written_visit_says_its_earlier_state_is_unknown(client, manager, rep):
    customer = CustomerFactory(owner=rep)
    with audit_trail_paused():  # as the planner's bulk insert: no "created" record
        visit = VisitFactory(customer=customer, rep=rep, origin="planner")
    save_as(visit, rep, status="confirmed")

    entries = customer_change_history(customer=customer)

    assert [(e.subject_type, e.kind, e.earlier_unknown, e.changes) for e in entries[:1]] == [("visit", "~", True, [])]
    client.force_login(manager)
    assert 'data-testid="history-earlier-unknown"' in client.get(detail_url(customer)).text


def test_the_oldest_change_shown_is_still_compared_with_the_state_before_it(rep):
    # Five changes of the customer, three shown: the third is diffed against a record not shown.
    customer = CustomerFactory(owner=rep, visit_cadence_days=10)
    for days in (20, 30, 40, 50, 60):
        save_as(customer, rep, visit_cadence_days=days)

    entries = customer_change_history(customer=customer, limit=3)

    assert [[(c.old, c.new) for c in e.changes] for e in entries] == [
        [("50", "60")],
        [("40", "50")],
        [("30", "40")],
    ]


def test_a_save_that_changed_nothing_visible_is_left_out(rep):
    customer = CustomerFactory(owner=rep)
    save_as(customer, rep)  # the form saved as it was
    save_as(customer, rep, latitude=45.0)  # a hidden column only
    save_as(customer, rep, city="Lyon")

    entries = customer_change_history(customer=customer)

    assert [(e.kind, [(c.label, c.old, c.new) for c in e.changes]) for e in entries] == [
        ("~", [("city", "Paris", "Lyon")]),
        ("+", []),
    ]


def test_deleted_visits_and_moved_opportunities_are_listed(rep, admin_user):
    customer = CustomerFactory(owner=rep)
    other = CustomerFactory(owner=rep, name="Other Co")
    opportunity = OpportunityFactory(customer=other)
    visit = VisitFactory(customer=customer, rep=rep)
    save_as(opportunity, admin_user, customer=customer)
    visit._history_user = admin_user
    visit.delete()

    entries = customer_change_history(customer=customer)

    assert [(e.subject_type, e.kind, e.user) for e in entries[:2]] == [
        ("visit", "-", admin_user),
        ("opportunity", "~", admin_user),
    ]
    assert [(c.label, c.old, c.new) for c in entries[1].changes] == [("customer", str(other), str(customer))]


def test_the_customer_page_query_count_does_not_grow_with_its_history(
    client, manager, rep, django_assert_max_num_queries
):
    customer = CustomerFactory(owner=rep)
    client.force_login(manager)
    client.get(detail_url(customer))  # warm per-process caches
    with CaptureQueriesContext(connection) as one:
        assert len(client.get(detail_url(customer)).context["history"]) == 1

    visits = [VisitFactory(customer=customer, rep=rep) for _ in range(3)]
    opportunities = [OpportunityFactory(customer=customer) for _ in range(3)]
    for index in range(4):
        save_as(customer, rep, employees=index + 1)
        save_as(visits[index % 3], rep, goal=f"goal {index}")
        save_as(opportunities[index % 3], manager, amount=Decimal(1000 + index))
    with django_assert_max_num_queries(len(one)):
        response = client.get(detail_url(customer))
    assert len(response.context["history"]) == 19  # 1 + 3 + 3 created, 12 changed


def test_the_history_selector_costs_three_queries(rep, django_assert_num_queries):
    customer = CustomerFactory(owner=rep)
    for index in range(3):
        save_as(VisitFactory(customer=customer, rep=rep), rep, goal=f"goal {index}")
        save_as(OpportunityFactory(customer=customer), rep, stage=stage("communication"))
    with django_assert_num_queries(3):  # the labels (users, stages, products) come joined
        entries = customer_change_history(customer=customer)
        stage_moves = [(str(e.user), c.old, c.new) for e in entries for c in e.changes if c.label == "stage"]
        subjects = {e.subject for e in entries if e.subject_type == "opportunity"}
    assert len(entries) == 13  # customer created; 3 visits and 3 opportunities created and changed
    assert stage_moves == [(str(rep), "Discovery", "Communication")] * 3
    assert len(subjects) == 3
    assert all(subject.startswith("Opportunity: Product ") for subject in subjects)
