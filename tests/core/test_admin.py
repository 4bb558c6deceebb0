"""The Django admin: every registered model's pages answer, bounded queries, and the custom workflows."""

from datetime import timedelta
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics.models import CustomerScore, NeedModelFit, PlanRun, ScoringPolicy
from api.models import ApiToken
from api.tokens import api_token_create
from core.models import User
from crm.models import Contact, Customer, Need, RepProfile, Team
from sales.models import Opportunity, Order, Product, Stage, StageChange
from tests.factories import (
    ContactFactory,
    CustomerFactory,
    FollowUpFactory,
    NeedFactory,
    OpportunityFactory,
    OrderFactory,
    ProductFactory,
    RepProfileFactory,
    StageChangeFactory,
    TeamFactory,
    UserFactory,
    VisitFactory,
    stage,
)
from visits.feeds import calendar_feed_rotate
from visits.models import CalendarFeed, FollowUp, Visit

READ_ONLY_MODELS = {CustomerScore, NeedModelFit, PlanRun, ApiToken}
# django-axes' login records: its admin refuses "add" (they are written by logins only).
AXES_MODELS = {AccessAttempt, AccessFailureLog, AccessLog}
AXES_RECORD = {"user_agent": "Firefox", "ip_address": "192.0.2.7", "username": "rep1", "path_info": "/login/"}


def make_plan_run(**kwargs) -> PlanRun:
    now = timezone.now()
    defaults = {
        "kind": PlanRun.Kind.SCORES,
        "status": PlanRun.Status.FAILED,
        "as_of": now,
        "policy": ScoringPolicy.objects.get(version=1),
        "total": 40,
        "done": 10,
        "started_at": now,
        "finished_at": now + timedelta(seconds=3),
        "error": "ValueError: T4 <= 0 at index 3",
    }
    return PlanRun.objects.create(**{**defaults, **kwargs})


def make_customer_score(**kwargs) -> CustomerScore:
    run = make_plan_run(status=PlanRun.Status.SUCCEEDED, error="")
    defaults = {
        "customer": CustomerFactory(),
        "run": run,
        "policy": run.policy,
        "t1": 0.5,
        "t2": 1.0,
        "t3": 0.25,
        "t4": 0.75,
        "t5": 45.0,
        "t6": 15.0,
        "p": 0.85,
        "t": 57.75,
        "computed_at": run.as_of,
    }
    return CustomerScore.objects.create(**{**defaults, **kwargs})


# One existing object per registered model, for its change page.
OBJECT_MAKERS = {
    User: lambda: UserFactory(role="Rep"),
    Group: lambda: Group.objects.get(name="Rep"),
    Team: TeamFactory,
    RepProfile: RepProfileFactory,
    Customer: CustomerFactory,
    Contact: ContactFactory,
    Need: NeedFactory,
    Visit: VisitFactory,
    FollowUp: FollowUpFactory,
    CalendarFeed: lambda: calendar_feed_rotate(user=UserFactory(role="Rep")),
    Product: ProductFactory,
    Stage: lambda: stage("discovery"),
    Opportunity: OpportunityFactory,
    StageChange: StageChangeFactory,
    Order: OrderFactory,
    ScoringPolicy: lambda: ScoringPolicy.objects.get(version=1),
    PlanRun: make_plan_run,
    CustomerScore: make_customer_score,
    NeedModelFit: lambda: NeedModelFit.objects.create(
        as_of=timezone.now(),
        status=NeedModelFit.Status.NOT_FITTED,
        reason_code=NeedModelFit.Reason.TOO_FEW,
        reason="Not fitted: only 3 closed opportunities (20 needed).",
        sample_size=3,
        run=make_plan_run(status=PlanRun.Status.SUCCEEDED, error=""),
    ),
    ApiToken: lambda: api_token_create(user=UserFactory(role="Rep"), name="ERP sync").token,
    AccessAttempt: lambda: AccessAttempt.objects.create(
        **{**AXES_RECORD, "username": f"rep{AccessAttempt.objects.count()}"}, failures_since_start=5
    ),
    AccessFailureLog: lambda: AccessFailureLog.objects.create(**AXES_RECORD, locked_out=True),
    AccessLog: lambda: AccessLog.objects.create(**AXES_RECORD),
}

REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def existing_object(model):
    if model in OBJECT_MAKERS:
        return OBJECT_MAKERS[model]()
    obj = model._default_manager.first()
    if obj is None:
        pytest.fail(f"{model._meta.label} is registered in the admin: add a maker to OBJECT_MAKERS")
    return obj


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_every_model_of_the_project_is_registered():
    project_models = {model for model in OBJECT_MAKERS if model is not Group and model not in AXES_MODELS}
    assert project_models <= set(admin.site._registry)


def test_site_titles():
    assert str(admin.site.site_header) == "Fieldwise administration"


# Fields deliberately left out of explicit fieldsets (shown another way).
NOT_IN_FIELDSETS = {"created_at", "updated_at", "planrun.done", "planrun.total"}  # PlanRun: as "progress"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_explicit_fieldsets_show_every_field(model):
    # A field added to a model later must not silently vanish from its admin page.
    model_admin = admin.site._registry[model]
    if not model_admin.fieldsets or model in AXES_MODELS:  # axes' own admin shows what it chooses
        return
    shown = set(flatten_fieldsets(model_admin.fieldsets))
    names = {
        field.name
        for field in model._meta.get_fields()
        if not field.auto_created and (field.concrete or field.many_to_many)
    }
    missing = {
        name
        for name in names - shown
        if name not in NOT_IN_FIELDSETS and f"{model._meta.model_name}.{name}" not in NOT_IN_FIELDSETS
    }
    assert not missing, f"{model._meta.label}: add {sorted(missing)} to the admin fieldsets"


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_changelist_answers(admin_client, model):
    obj = existing_object(model)
    response = admin_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1
    assert obj.pk in {row.pk for row in response.context["cl"].result_list}


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_add_page_answers_or_is_forbidden_for_read_only_models(admin_client, model):
    response = admin_client.get(admin_url(model, "add"))
    assert response.status_code == (403 if model in READ_ONLY_MODELS | AXES_MODELS else 200)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_change_page_answers(admin_client, model):
    obj = existing_object(model)
    response = admin_client.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200
    assert response.context["original"].pk == obj.pk
    # Read-only models render without a save button.
    assert ('name="_save"' in response.text) is (model not in READ_ONLY_MODELS)


@pytest.mark.parametrize("model", REGISTERED, ids=lambda model: model._meta.label)
def test_changelist_query_count_does_not_grow_with_rows(admin_client, model):
    existing_object(model)
    url = admin_url(model, "changelist")
    admin_client.get(url)  # warm per-process caches (content types, sites)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for _ in range(5):
        existing_object(model)
    with CaptureQueriesContext(connection) as more:
        admin_client.get(url)
    assert len(more) == len(few), [query["sql"] for query in more.captured_queries]


def test_read_only_models_refuse_posts(admin_client):
    score = make_customer_score()
    response = admin_client.post(admin_url(CustomerScore, "change", score.pk), {"p": "9"})
    assert response.status_code == 403
    assert CustomerScore.objects.get(pk=score.pk).p == 0.85
    assert admin_client.get(admin_url(PlanRun, "delete", score.run_id)).status_code == 403


def test_plan_run_page_shows_progress_and_error(admin_client):
    run = make_plan_run()
    response = admin_client.get(admin_url(PlanRun, "change", run.pk))
    assert "10/40 (25%)" in response.text
    assert "ValueError: T4 &lt;= 0 at index 3" in response.text


# --- customers -------------------------------------------------------------------------------


def test_customer_search_by_code_name_and_city(admin_client):
    CustomerFactory(code="ACME-1", name="Acme Industrial", city="Lyon")
    CustomerFactory(code="BETA-2", name="Beta Foods", city="Lille")
    CustomerFactory(code="GAMMA-3", name="Gamma Tools", city="Lyon")
    url = admin_url(Customer, "changelist")

    def found(query: str) -> set[str]:
        response = admin_client.get(url, {"q": query})
        assert response.status_code == 200
        return {customer.code for customer in response.context["cl"].result_list}

    assert found("acme") == {"ACME-1"}
    assert found("BETA-2") == {"BETA-2"}
    assert found("lyon") == {"ACME-1", "GAMMA-3"}
    assert found("nothing-like-this") == set()


def test_customer_filter_by_owner_team(admin_client, rep, other_rep):
    CustomerFactory(owner=rep, code="N1")
    CustomerFactory(owner=rep, code="N2")
    CustomerFactory(owner=other_rep, code="S1")
    CustomerFactory(owner=None, code="U1")
    north = Team.objects.get(name="North")
    url = admin_url(Customer, "changelist")

    response = admin_client.get(url, {"owner_team": north.pk})
    assert {c.code for c in response.context["cl"].result_list} == {"N1", "N2"}
    response = admin_client.get(url, {"owner_team": "none"})
    assert {c.code for c in response.context["cl"].result_list} == {"U1"}


def test_customer_changelist_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    # 30 customers, each with a distinct owner: an N+1 on owner would cost 30 more queries.
    CustomerFactory.create_batch(30)
    with django_assert_max_num_queries(10):  # 7 measured: session, user, 2 counts, rows, 2 filters
        response = admin_client.get(admin_url(Customer, "changelist"))
    assert response.context["cl"].result_count == 30


def test_visit_changelist_queries_do_not_grow_with_rows(admin_client, django_assert_max_num_queries):
    # 30 visits with distinct customers and reps.
    VisitFactory.create_batch(30)
    with django_assert_max_num_queries(10):  # 8 measured: session, user, 2 counts, rows, rep filter, dates
        response = admin_client.get(admin_url(Visit, "changelist"))
    assert response.context["cl"].result_count == 30


def test_deleting_a_scored_customer_is_not_blocked_by_the_read_only_score(admin_client):
    score = make_customer_score()
    url = admin_url(Customer, "delete", score.customer_id)
    assert not admin_client.get(url).context["perms_lacking"]
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=score.customer_id).exists()
    assert not CustomerScore.objects.filter(pk=score.customer_id).exists()


# --- reassign action -------------------------------------------------------------------------


@pytest.fixture
def book(rep, teammate, other_rep):
    tomorrow = timezone.now() + timedelta(days=1)
    first = CustomerFactory(owner=rep, code="R1", name="Alpha")
    second = CustomerFactory(owner=rep, code="R2", name="Bravo")
    kept = CustomerFactory(owner=rep, code="R3", name="Charlie")
    return {
        "first": first,
        "second": second,
        "kept": kept,
        "planner_visit": VisitFactory(customer=first, planned_start=tomorrow, origin="planner"),
        "manual_visit": VisitFactory(customer=first, planned_start=tomorrow, origin="manual"),
    }


def start_reassign(client, *customers):
    return client.post(
        admin_url(Customer, "changelist"),
        {"action": "reassign_customers", "index": "0", ACTION_CHECKBOX_NAME: [c.pk for c in customers]},
    )


def test_reassign_action_shows_a_confirmation_page_offering_only_active_reps(admin_client, book, manager):
    UserFactory(username="retired_rep", role="Rep", is_active=False)

    response = start_reassign(admin_client, book["first"], book["second"])

    assert response.status_code == 200
    assert "admin/crm/customer/reassign.html" in [t.name for t in response.templates]
    assert "admin/base_site.html" in [t.name for t in response.templates]
    offered = {user.username for user in response.context["form"].fields["new_owner"].queryset}
    assert offered == {"rep_north", "rep_north_2", "rep_south"}
    assert "Alpha (R1)" in response.text
    assert "Bravo (R2)" in response.text
    assert "Charlie (R3)" not in response.text
    assert f'href="{admin_url(Customer, "changelist")}" class="button cancel-link"' in response.text


def test_reassign_action_end_to_end(admin_client, book, teammate):
    response = admin_client.post(
        admin_url(Customer, "changelist"),
        {
            "action": "reassign_customers",
            ACTION_CHECKBOX_NAME: [book["first"].pk, book["second"].pk],
            "new_owner": teammate.pk,
            "_reassign": "Reassign",
        },
    )

    assert response.status_code == 302
    assert response.url == admin_url(Customer, "changelist")
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"2 customers reassigned to {teammate}."]
    owners = dict(Customer.objects.values_list("code", "owner__username"))
    assert owners == {"R1": "rep_north_2", "R2": "rep_north_2", "R3": "rep_north"}
    assert Visit.objects.get(pk=book["planner_visit"].pk).rep == teammate
    assert Visit.objects.get(pk=book["manual_visit"].pk).rep.username == "rep_north"


def test_reassign_action_rejects_a_non_rep_and_changes_nothing(admin_client, book, manager):
    response = admin_client.post(
        admin_url(Customer, "changelist"),
        {
            "action": "reassign_customers",
            ACTION_CHECKBOX_NAME: [book["first"].pk],
            "new_owner": manager.pk,
            "_reassign": "Reassign",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["new_owner"]
    assert Customer.objects.get(pk=book["first"].pk).owner.username == "rep_north"


# --- rep profiles and users ------------------------------------------------------------------


def rep_profile_post(profile: RepProfile, days: list[int]) -> dict:
    return {
        "user": profile.user_id,
        "team": profile.team_id,
        "working_days": [str(day) for day in days],
        "day_start": "08:00",
        "day_end": "17:00",
        "lunch_start": "12:30",
        "lunch_minutes": "45",
        "home_latitude": "45.76",
        "home_longitude": "4.84",
    }


def test_rep_profile_working_days_checkboxes_round_trip(admin_client, rep):
    profile = rep.rep_profile
    url = admin_url(RepProfile, "change", profile.pk)

    response = admin_client.post(url, rep_profile_post(profile, [0, 2, 4]))

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.working_days == 0b10101 == 21
    assert profile.working_weekdays == [0, 2, 4]
    assert profile.lunch_minutes == 45
    form = admin_client.get(url).context["adminform"].form
    assert form["working_days"].value() == [0, 2, 4]
    assert 'value="4" id="id_working_days_4" checked' in form["working_days"].as_widget()


def test_rep_profile_needs_at_least_one_working_day(admin_client, rep):
    profile = rep.rep_profile
    response = admin_client.post(admin_url(RepProfile, "change", profile.pk), rep_profile_post(profile, []))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["working_days"] == ["Pick at least one working day."]
    profile.refresh_from_db()
    assert profile.working_days == 0b0011111


def test_add_user_with_role_and_rep_profile_inline(admin_client, team):
    rep_group = Group.objects.get(name="Rep")
    response = admin_client.post(
        admin_url(User, "add"),
        {
            "username": "new_rep",
            "usable_password": "true",
            "password1": "a-long-enough-Passw0rd",
            "password2": "a-long-enough-Passw0rd",
            "first_name": "Nora",
            "last_name": "Field",
            "email": "nora@example.com",
            "groups": [rep_group.pk],
            "rep_profile-TOTAL_FORMS": "1",
            "rep_profile-INITIAL_FORMS": "0",
            "rep_profile-MIN_NUM_FORMS": "0",
            "rep_profile-MAX_NUM_FORMS": "1",
            "rep_profile-0-team": team.pk,
            "rep_profile-0-working_days": ["1", "2", "3", "4", "5"],
            "rep_profile-0-day_start": "09:00",
            "rep_profile-0-day_end": "18:00",
            "rep_profile-0-lunch_start": "13:00",
            "rep_profile-0-lunch_minutes": "60",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(username="new_rep")
    assert list(user.groups.values_list("name", flat=True)) == ["Rep"]
    assert user.rep_profile.team == team
    assert user.rep_profile.working_days == 0b0111110  # Tuesday..Saturday


def test_user_changelist_shows_role_and_teams_managed(admin_client, manager, rep):
    response = admin_client.get(
        admin_url(User, "changelist"), {"groups__id__exact": Group.objects.get(name="Manager").pk}
    )
    assert [user.username for user in response.context["cl"].result_list] == ["manager_north"]
    assert '<td class="field-teams_managed">North</td>' in response.text
    assert '<td class="field-role">Manager</td>' in response.text


def test_team_changelist_counts_members(admin_client, rep, teammate, other_rep, manager):
    response = admin_client.get(admin_url(Team, "changelist"))
    counts = {team.name: team.member_count for team in response.context["cl"].result_list}
    assert counts == {"North": 2, "South": 1}


# --- sales -----------------------------------------------------------------------------------


def test_stage_list_editable_probability(admin_client):
    stages = list(Stage.objects.order_by("order"))
    data = {
        "form-TOTAL_FORMS": str(len(stages)),
        "form-INITIAL_FORMS": str(len(stages)),
        "_save": "Save",
    }
    for index, row in enumerate(stages):
        data[f"form-{index}-id"] = row.pk
        data[f"form-{index}-order"] = row.order
        data[f"form-{index}-default_probability"] = "0.250" if row.code == "discovery" else row.default_probability
    response = admin_client.post(admin_url(Stage, "changelist"), data)
    assert response.status_code == 302
    assert stage("discovery").default_probability == Decimal("0.250")
    assert stage("communication").default_probability == Decimal("0.300")


def test_opportunity_changelist_shows_effective_probability(admin_client):
    OpportunityFactory(stage=stage("communication"), probability=Decimal("0.900"), probability_manual=False)
    OpportunityFactory(stage=stage("communication"), probability=Decimal("0.900"), probability_manual=True)
    response = admin_client.get(admin_url(Opportunity, "changelist"))
    cells = response.text.count('<td class="field-effective_probability">30%</td>')
    manual = response.text.count('<td class="field-effective_probability">90%</td>')
    assert (cells, manual) == (1, 1)


def test_moving_an_opportunity_in_the_admin_records_the_stage_change(admin_client, admin_user):
    opportunity = OpportunityFactory()
    opened = timezone.localtime(opportunity.opened_at)
    response = admin_client.post(
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
    change = StageChange.objects.get(opportunity=opportunity)
    assert (change.from_stage.code, change.to_stage.code, change.changed_by) == ("discovery", "follow-up", admin_user)


def test_order_fulfilled_filter(admin_client):
    open_order = OrderFactory()
    done = OrderFactory()
    done.fulfilled_at = done.ordered_at + timedelta(days=2)
    done.save()
    url = admin_url(Order, "changelist")
    assert [o.pk for o in admin_client.get(url, {"fulfilled": "yes"}).context["cl"].result_list] == [done.pk]
    assert [o.pk for o in admin_client.get(url, {"fulfilled": "no"}).context["cl"].result_list] == [open_order.pk]


# --- scoring policies ------------------------------------------------------------------------


def policy_post(policy: ScoringPolicy, **changes) -> dict:
    fields = ("version", "name", "w1", "w2", "w3", "t5_a", "t5_b", "t5_c", "t6_a", "t6_b", "t6_c")
    data = {field: getattr(policy, field) for field in fields}
    data |= {"speed_kmh": policy.speed_kmh, "default_travel_km": policy.default_travel_km}
    data |= {"max_visit_minutes": policy.max_visit_minutes}
    return {**data, **changes}


def test_a_used_policy_is_read_only_and_saved_as_a_new_version(admin_client):
    v1 = ScoringPolicy.objects.get(version=1)
    make_plan_run(policy=v1)
    url = admin_url(ScoringPolicy, "change", v1.pk)

    page = admin_client.get(url)
    assert 'name="_saveasnewversion"' in page.text
    assert 'name="_save"' not in page.text
    admin_client.post(url, policy_post(v1, w1=0.9))
    assert ScoringPolicy.objects.get(pk=v1.pk).w1 == 0.5

    response = admin_client.post(url, {"_saveasnewversion": "1"})

    v2 = ScoringPolicy.objects.get(version=2)
    assert response.status_code == 302
    assert response.url == admin_url(ScoringPolicy, "change", v2.pk)
    assert (v2.active, v2.w1, v2.w2, v2.w3, v2.t5_a, v2.speed_kmh) == (False, 0.5, 0.3, 0.2, 60, 40)
    assert ScoringPolicy.objects.get(active=True).version == 1


def test_an_unused_policy_is_editable_but_not_activated_by_the_form(admin_client):
    draft = ScoringPolicy.objects.create(version=2, name="Draft")
    response = admin_client.post(admin_url(ScoringPolicy, "change", draft.pk), policy_post(draft, w1=0.6, active="on"))
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.w1, draft.active) == (0.6, False)


def test_duplicate_action_numbers_versions_after_the_highest(admin_client):
    v1 = ScoringPolicy.objects.get(version=1)
    ScoringPolicy.objects.create(version=7, name="Experiment", w1=0.7, w2=0.2, w3=0.1)
    response = admin_client.post(
        admin_url(ScoringPolicy, "changelist"),
        {"action": "duplicate_as_new_version", "index": "0", ACTION_CHECKBOX_NAME: [v1.pk]},
    )
    assert response.status_code == 302
    copy = ScoringPolicy.objects.get(version=8)
    assert (copy.name, copy.w1, copy.active) == ("Default", 0.5, False)


def test_activate_action_switches_the_single_active_policy(admin_client):
    v2 = ScoringPolicy.objects.create(version=2, name="Next", w1=0.6, w2=0.3, w3=0.1)
    url = admin_url(ScoringPolicy, "changelist")

    admin_client.post(url, {"action": "activate", "index": "0", ACTION_CHECKBOX_NAME: [v2.pk]})

    assert list(ScoringPolicy.objects.filter(active=True).values_list("version", flat=True)) == [2]

    v1 = ScoringPolicy.objects.get(version=1)
    response = admin_client.post(url, {"action": "activate", "index": "0", ACTION_CHECKBOX_NAME: [v1.pk, v2.pk]})
    assert [str(m) for m in get_messages(response.wsgi_request)][-1] == "Select exactly one policy to activate."
    assert list(ScoringPolicy.objects.filter(active=True).values_list("version", flat=True)) == [2]


def test_new_policy_starts_at_the_next_version(admin_client):
    ScoringPolicy.objects.create(version=4)
    response = admin_client.get(admin_url(ScoringPolicy, "add"))
    assert response.context["adminform"].form.initial["version"] == 5


def test_team_managers_are_chosen_among_managers(admin_client, team, manager, rep):
    response = admin_client.get(admin_url(Team, "change", team.pk))
    choices = response.context["adminform"].form.fields["managers"].queryset
    assert [user.username for user in choices] == ["manager_north"]
    members = response.context["inline_admin_formsets"][0].formset.queryset
    assert [profile.user.username for profile in members] == ["rep_north"]


def test_stage_history_inline_is_oldest_first(admin_client):
    opportunity = OpportunityFactory()
    now = timezone.now()
    StageChangeFactory(opportunity=opportunity, from_stage=stage("communication"), to_stage=stage("follow-up"))
    StageChangeFactory(
        opportunity=opportunity,
        from_stage=stage("discovery"),
        to_stage=stage("communication"),
        changed_at=now - timedelta(days=3),
    )
    response = admin_client.get(admin_url(Opportunity, "change", opportunity.pk))
    history = response.context["inline_admin_formsets"][0].formset.queryset
    assert [change.to_stage.code for change in history] == ["communication", "follow-up"]
