"""`seed_demo`: deterministic, consistent with every model rule, and usable (logins work)."""

import hashlib
import math
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import F
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import User
from crm.demo import demo_seed
from crm.models import Contact, Customer, Need, RepProfile, Team
from crm.selectors import customer_list_for_user
from sales.models import Opportunity, Order, Product, Stage, StageChange
from visits.models import FollowUp, Visit

AS_OF = date(2025, 6, 30)
UTC = ZoneInfo("UTC")
NOW = datetime.combine(AS_OF, time(0), tzinfo=UTC)  # TIME_ZONE is UTC in the test settings
YEAR_AGO = NOW - timedelta(days=365)
CITY = {"Paris": (48.8566, 2.3522), "Berlin": (52.52, 13.405), "Milan": (45.4642, 9.19)}

# Rows are compared without their ids: a foreign key becomes the rank of the row it points at.
MODELS = [User, Team, RepProfile, Product, Customer, Contact, Visit, Need, FollowUp, Opportunity, StageChange, Order]
THROUGH = [User.groups.through, Team.managers.through]
NOT_COMPARED = {
    User: {"password", "last_login", "date_joined"},  # salted hash, wall-clock times
    Team: {"created_at", "updated_at"},
    RepProfile: {"created_at", "updated_at"},
    Product: {"created_at", "updated_at"},
}


def fingerprint() -> dict[str, str]:
    """A digest per table of every column except ids and wall-clock timestamps."""
    ranks = {
        model: {pk: rank for rank, pk in enumerate(model.objects.order_by("pk").values_list("pk", flat=True))}
        for model in [*MODELS, Stage, Group]
    }
    digests = {}
    for model in MODELS + THROUGH:
        fields = [
            field
            for field in model._meta.concrete_fields
            if not field.primary_key and field.name not in NOT_COMPARED.get(model, set())
        ]
        rows = [
            tuple(
                ranks[field.related_model][value] if field.is_relation and value is not None else value
                for field, value in zip(fields, values, strict=True)
            )
            for values in model.objects.order_by("pk").values_list(*[field.attname for field in fields])
        ]
        digests[model._meta.label] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return digests


def seeded_fingerprint(**options) -> dict[str, str]:
    """Seed inside a savepoint, fingerprint, roll back: the next seeding starts from an empty database."""
    with transaction.atomic():
        demo_seed(as_of=AS_OF, **options)
        result = fingerprint()
        transaction.set_rollback(True)
    return result


def km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


@pytest.fixture
def seeded(db):
    return demo_seed(customers=300, seed=42, as_of=AS_OF)


def test_same_seed_and_as_of_give_the_same_data_another_seed_does_not(db):
    first = seeded_fingerprint(customers=200, seed=7)
    assert Customer.objects.count() == 0  # rolled back
    second = seeded_fingerprint(customers=200, seed=7)
    other = seeded_fingerprint(customers=200, seed=8)

    assert first == second
    changed = {label for label in first if first[label] != other[label]}
    assert {"crm.Customer", "crm.Contact", "visits.Visit", "sales.Opportunity"} <= changed


def test_deferred_indexes_give_the_same_data_and_restore_the_schema(db):
    schema_before = _schema()
    plain = seeded_fingerprint(customers=150, seed=3, defer_indexes=False)
    deferred = seeded_fingerprint(customers=150, seed=3, defer_indexes=True)

    assert deferred == plain
    assert _schema() == schema_before


def _schema() -> list[tuple]:
    tables = [model._meta.db_table for model in MODELS]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        else:
            cursor.execute(
                "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " UNION ALL SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
                " ORDER BY 1, 2"
            )
        return [row for row in cursor.fetchall() if any(table in str(row) for table in tables)]


def test_reported_counts_match_the_tables(seeded):
    assert seeded["crm.Customer"] == Customer.objects.count() == 300
    assert seeded["crm.Contact"] == Contact.objects.count()
    assert seeded["visits.Visit"] == Visit.objects.count()
    assert seeded["crm.Need"] == Need.objects.count()
    assert seeded["visits.FollowUp"] == FollowUp.objects.count()
    assert seeded["sales.Opportunity"] == Opportunity.objects.count()
    assert seeded["sales.StageChange"] == StageChange.objects.count()
    assert seeded["sales.Order"] == Order.objects.count()
    assert seeded["core.User"] == User.objects.count() == 1 + 3 + 4


def test_teams_managers_and_reps(seeded):
    # 300 customers: max(4, 300 / 150) = 4 reps over 3 teams, one manager each.
    assert sorted(Team.objects.values_list("name", flat=True)) == ["Berlin", "Milan", "Paris"]
    for team in Team.objects.prefetch_related("managers"):
        assert [m.username for m in team.managers.all()] == [f"manager{list(CITY).index(team.name) + 1}"]
    assert set(User.objects.filter(groups__name="Manager").values_list("username", flat=True)) == {
        "manager1",
        "manager2",
        "manager3",
    }
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert list(admin.groups.values_list("name", flat=True)) == ["Admin"]

    profiles = RepProfile.objects.select_related("user", "team").order_by("user__username")
    assert [p.user.username for p in profiles] == ["rep1", "rep2", "rep3", "rep4"]
    assert [p.team.name for p in profiles] == ["Paris", "Berlin", "Milan", "Paris"]  # dealt round-robin
    for profile in profiles:
        assert list(profile.user.groups.values_list("name", flat=True)) == ["Rep"]
        assert km(profile.home_latitude, profile.home_longitude, *CITY[profile.team.name]) <= 10.0
        assert profile.working_weekdays == [0, 1, 2, 3, 4]
        assert (profile.day_start, profile.day_end, profile.lunch_start, profile.lunch_minutes) == (
            time(8, 30),
            time(17, 30),
            time(12, 0),
            60,
        )


def test_every_customer_is_owned_by_a_rep_whose_manager_sees_it(seeded):
    rep_ids = set(User.objects.filter(groups__name="Rep").values_list("pk", flat=True))
    assert set(Customer.objects.values_list("owner_id", flat=True)) == rep_ids  # 75 customers each
    seen = Counter()
    for manager in User.objects.filter(groups__name="Manager"):
        for code, owner_team in customer_list_for_user(user=manager).values_list(
            "code", "owner__rep_profile__team__name"
        ):
            assert owner_team == manager.managed_teams.get().name
            seen[code] += 1
    assert len(seen) == 300
    assert set(seen.values()) == {1}
    assert sorted(Customer.objects.values_list("code", flat=True))[:2] == ["DEMO-000001", "DEMO-000002"]
    assert Customer.objects.filter(code="DEMO-000300").exists()


def test_customer_attributes(seeded):
    tiers = Counter(Customer.objects.values_list("tier", flat=True))
    assert 20 <= tiers["A"] <= 70  # 15/35/50 %
    assert 70 <= tiers["B"] <= 140
    assert 110 <= tiers["C"] <= 190
    cadence = dict(Customer.objects.values_list("tier", "visit_cadence_days").distinct())
    assert cadence == {"A": 14, "B": 30, "C": 60}
    assert 0 < Customer.objects.filter(status="inactive").count() <= 20  # about 3 %
    assert 0 < Customer.objects.filter(latitude__isnull=True).count() <= 20  # about 2 %
    assert Customer.objects.filter(latitude__isnull=True, longitude__isnull=False).count() == 0

    # Located customers lie around their rep's home base (sigma 20 km: 99 % within 60 km).
    far = 0
    for customer in Customer.objects.filter(latitude__isnull=False).select_related("owner__rep_profile"):
        home = customer.owner.rep_profile
        far += km(customer.latitude, customer.longitude, home.home_latitude, home.home_longitude) > 60
    assert far <= 6
    median_value = {
        tier: sorted(Customer.objects.filter(tier=tier).values_list("annual_value", flat=True))[
            Customer.objects.filter(tier=tier).count() // 2
        ]
        for tier in "ABC"
    }
    assert median_value["A"] > median_value["B"] > median_value["C"] > 0
    assert all(Customer.objects.exclude(**{field: ""}).count() == 300 for field in ("name", "city", "address"))


def test_each_customer_has_one_to_three_contacts_one_primary(seeded):
    contacts = defaultdict(list)
    for customer_id, is_primary in Contact.objects.values_list("customer_id", "is_primary"):
        contacts[customer_id].append(is_primary)
    assert len(contacts) == 300
    assert all(1 <= len(flags) <= 3 and sum(flags) == 1 for flags in contacts.values())


def test_visits_cover_the_year_before_as_of(seeded):
    past = Visit.objects.exclude(status="confirmed")
    starts = sorted(past.values_list("planned_start", flat=True))
    assert YEAR_AGO <= starts[0] < YEAR_AGO + timedelta(days=14)
    assert NOW - timedelta(days=5) < starts[-1] < NOW
    assert set(past.values_list("status", flat=True)) == {"completed", "missed", "cancelled"}
    # One visit per cadence: a tier-A customer about 26 a year, a tier-C one about 6.
    per_tier = Counter(past.values_list("customer__tier", flat=True))
    tiers = Counter(Customer.objects.filter(status="active").values_list("tier", flat=True))
    assert 20 <= per_tier["A"] / tiers["A"] <= 27
    assert 4 <= per_tier["C"] / tiers["C"] <= 7
    assert all(v.weekday() < 5 for v in starts)
    future = Visit.objects.filter(status="confirmed")
    assert all(NOW <= start < NOW + timedelta(days=21) for start in future.values_list("planned_start", flat=True))
    assert Visit.objects.exclude(rep_id=F("customer__owner_id")).count() == 0


def test_visit_fields_follow_their_status(seeded):
    completed = Visit.objects.filter(status="completed")
    assert completed.filter(checked_in_at__isnull=True).count() == 0
    assert completed.filter(checked_out_at__isnull=True).count() == 0
    assert completed.filter(checked_out_at__gte=NOW).count() == 0
    # Most check in within 30 minutes of the planned start and file the report within 24 h (spec 2).
    on_time = sum(
        abs((checked_in - planned).total_seconds()) <= 1800
        for planned, checked_in in completed.values_list("planned_start", "checked_in_at")
    )
    assert 0.8 <= on_time / completed.count() <= 0.95
    reports = completed.filter(report_filed_at__isnull=False)
    late_reports = sum(
        (filed - out).total_seconds() > 86400 for out, filed in reports.values_list("checked_out_at", "report_filed_at")
    )
    assert 0.05 <= late_reports / reports.count() <= 0.25
    assert reports.filter(report="").count() == 0
    assert reports.filter(report_filed_at__gte=NOW).count() == 0
    assert completed.filter(report_filed_at__isnull=True).exclude(report="").count() == 0
    scored = completed.filter(actual_satisfaction__isnull=False)
    assert scored.count() > 0.8 * completed.count()
    assert set(scored.values_list("actual_satisfaction", flat=True)) <= {1, 2, 3, 4, 5}
    assert set(scored.values_list("expected_satisfaction", flat=True)) <= {3, 4, 5}

    not_done = Visit.objects.exclude(status="completed")
    assert not_done.filter(checked_in_at__isnull=False).count() == 0
    assert not_done.filter(needs_raised__gt=0).count() == 0
    cancelled = Visit.objects.filter(status="cancelled")
    assert cancelled.filter(cancelled_at__isnull=True).count() == 0
    assert cancelled.filter(cancel_reason="").count() == 0
    assert Visit.objects.exclude(status="cancelled").filter(cancelled_at__isnull=False).count() == 0
    assert set(Visit.objects.values_list("origin", flat=True)) == {"planner", "manual"}


def test_needs_match_the_visits_that_raised_them(seeded):
    raised = Counter()
    satisfied = Counter()
    for visit_id, is_satisfied, raised_at, satisfied_at in Need.objects.values_list(
        "visit_id", "satisfied", "raised_at", "satisfied_at"
    ):
        raised[visit_id] += 1
        satisfied[visit_id] += is_satisfied
        assert raised_at < NOW
        if is_satisfied:
            assert raised_at <= satisfied_at < NOW
    visits = Visit.objects.filter(needs_raised__gt=0)
    assert visits.count() > 0
    assert {v.pk: v.needs_raised for v in visits} == dict(raised)
    assert {v.pk: v.needs_satisfied for v in visits if v.needs_satisfied} == {pk: n for pk, n in satisfied.items() if n}
    assert Need.objects.exclude(customer_id=F("visit__customer_id")).count() == 0


def test_follow_ups_belong_to_completed_visits(seeded):
    follow_ups = FollowUp.objects.select_related("visit")
    assert follow_ups.count() > 0
    for follow_up in follow_ups:
        assert follow_up.visit.status == "completed"
        assert follow_up.assignee_id == follow_up.visit.rep_id
        assert follow_up.due_date > follow_up.visit.planned_start.date()
        if follow_up.done_at:
            assert follow_up.visit.checked_out_at <= follow_up.done_at < NOW
    done = follow_ups.filter(done_at__isnull=False, due_date__lt=AS_OF).count()
    assert done / follow_ups.filter(due_date__lt=AS_OF).count() >= 0.8


def test_opportunities_move_forward_through_their_stages(seeded):
    stages = {stage.pk: stage for stage in Stage.objects.all()}
    history = defaultdict(list)
    for change in StageChange.objects.order_by("changed_at", "pk"):
        history[change.opportunity_id].append(change)
    opportunities = list(Opportunity.objects.all())
    assert 1.0 <= len(opportunities) / 300 <= 2.0
    for opportunity in opportunities:
        changes = history[opportunity.pk]
        assert changes[0].from_stage_id is None
        assert stages[changes[0].to_stage_id].code == "discovery"
        assert changes[0].changed_at == opportunity.opened_at
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.from_stage_id == before.to_stage_id
            assert stages[after.to_stage_id].order > stages[after.from_stage_id].order
            assert before.changed_at < after.changed_at < NOW
        stage = stages[opportunity.stage_id]
        assert changes[-1].to_stage_id == stage.pk
        assert opportunity.probability == stage.default_probability
        assert opportunity.owner_id == changes[-1].changed_by_id
        if stage.is_terminal:
            assert opportunity.closed_at == changes[-1].changed_at
        else:
            assert opportunity.closed_at is None
        assert bool(opportunity.lost_reason) == stage.is_lost
    codes = Counter(stages[o.stage_id].code for o in opportunities)
    assert all(codes[code] > 0 for code in ("discovery", "communication", "follow-up", "won", "lost"))


def test_every_won_opportunity_has_one_order(seeded):
    won = Opportunity.objects.filter(stage__code="won")
    orders = {order.opportunity_id: order for order in Order.objects.all()}
    assert set(orders) == set(won.values_list("pk", flat=True))
    for opportunity in won:
        order = orders[opportunity.pk]
        assert order.ordered_at == opportunity.closed_at
        assert order.amount == opportunity.amount
        assert order.fulfilled_at is None or opportunity.closed_at < order.fulfilled_at < NOW
    assert Order.objects.filter(fulfilled_at__isnull=False).count() >= 0.7 * len(orders)


@override_settings(TIME_ZONE="Europe/Paris")
def test_visits_are_planned_in_local_working_hours(db):
    demo_seed(customers=150, seed=1, as_of=AS_OF)
    paris = ZoneInfo("Europe/Paris")
    for start in Visit.objects.values_list("planned_start", flat=True):
        local = start.astimezone(paris)
        assert time(8, 30) <= local.time() <= time(16, 30)
        assert local.time() < time(12) or local.time() >= time(13)
        assert local.weekday() < 5


def test_seeding_writes_in_bulk(db):
    # The ORM handles the few users and teams; customers and history go through executemany / COPY,
    # so four times the customers (same reps) costs not a single query more.
    queries = []
    for customers in (150, 600):
        with transaction.atomic(), CaptureQueriesContext(connection) as captured:
            demo_seed(customers=customers, seed=42, as_of=AS_OF)
            transaction.set_rollback(True)
        queries.append(len(captured))
    assert queries[0] == queries[1] <= 60  # PostgreSQL: lock, nextval, setval per table


def test_if_empty_seeds_once_and_always_prints_the_logins(db):
    first, second = StringIO(), StringIO()
    call_command("seed_demo", "--if-empty", "--customers", "150", "--as-of", "2025-06-30", stdout=first)
    counts = (Customer.objects.count(), Visit.objects.count(), User.objects.count())
    call_command("seed_demo", "--if-empty", "--customers", "150", "--as-of", "2025-06-30", stdout=second)

    assert counts[0] == 150
    assert (Customer.objects.count(), Visit.objects.count(), User.objects.count()) == counts
    assert "nothing seeded" in second.getvalue()
    for output in (first.getvalue(), second.getvalue()):
        assert "http://127.0.0.1:8000/" in output
        assert "admin:    admin" in output
        assert "manager:  manager1" in output
        assert "reps:     rep1, rep2" in output
        assert "all reps: rep1..rep4" in output
        assert settings.FIELDWISE_DEMO_PASSWORD in output
        assert len(output.splitlines()) < 30


def test_seeding_again_without_if_empty_is_refused(db):
    call_command("seed_demo", "--customers", "150", "--as-of", "2025-06-30", stdout=StringIO())
    with pytest.raises(CommandError, match="already exist"):
        call_command("seed_demo", "--customers", "150", stdout=StringIO())
    assert Customer.objects.count() == 150


def test_at_least_one_customer(db):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("seed_demo", "--customers", "0", stdout=StringIO())
    assert User.objects.count() == 0


def test_as_of_defaults_to_today_in_the_time_zone(db):
    output = StringIO()
    call_command("seed_demo", "--customers", "150", stdout=output)
    assert f"as of {timezone.localdate().isoformat()}" in output.getvalue()
    latest = Visit.objects.exclude(status="confirmed").latest("planned_start").planned_start
    assert timezone.now() - timedelta(days=6) < latest < timezone.now()


def test_demo_users_log_in_with_the_demo_password(seeded, client):
    for username in ("admin", "manager1", "rep1", "rep4"):
        assert client.login(username=username, password=settings.FIELDWISE_DEMO_PASSWORD)
    assert not client.login(username="rep1", password="wrong")


def test_reps_option_shares_the_customers_evenly(db):
    output = StringIO()
    call_command("seed_demo", "--customers", "300", "--reps", "6", "--as-of", "2025-06-30", stdout=output)

    owned = Counter(Customer.objects.values_list("owner__username", flat=True))
    assert owned == {f"rep{n}": 50 for n in range(1, 7)}
    assert RepProfile.objects.count() == 6
    assert Team.objects.count() == 3  # 6 reps // 2, at least 3
    assert "all reps: rep1..rep6" in output.getvalue()
    assert Visit.objects.exclude(rep_id=F("customer__owner_id")).count() == 0


def test_reps_option_keeps_whole_reps_in_a_chunk(db, monkeypatch):
    # 7 reps over 100 customers: 14 or 15 each (ceil 15 per rep); chunks of 30 customers hold 2 reps.
    import crm.demo.seeding

    whole = seeded_fingerprint(customers=100, reps=7, seed=5)
    monkeypatch.setattr(crm.demo.seeding, "CHUNK_CUSTOMERS", 30)
    chunked = seeded_fingerprint(customers=100, reps=7, seed=5)
    demo_seed(customers=100, reps=7, seed=5, as_of=AS_OF)

    assert chunked["crm.Customer"] != whole["crm.Customer"]  # another random stream per chunk ...
    owned = sorted(Counter(Customer.objects.values_list("owner_id", flat=True)).values())
    assert owned == [14, 14, 14, 14, 14, 15, 15]  # ... but the same even split
    assert Visit.objects.exclude(rep_id=F("customer__owner_id")).count() == 0


def test_reps_must_be_between_one_and_the_customers(db):
    for reps in ("0", "151"):
        with pytest.raises(CommandError, match="between 1 and the number of customers"):
            call_command("seed_demo", "--customers", "150", "--reps", reps, stdout=StringIO())
    assert User.objects.count() == 0
    with pytest.raises(ValueError, match="between 1"):
        demo_seed(customers=10, reps=0, as_of=AS_OF)


def test_opportunity_scale_multiplies_the_opportunities_per_customer(db):
    def opportunities(scale: float) -> int:
        with transaction.atomic():
            counts = demo_seed(customers=400, seed=3, as_of=AS_OF, opportunity_scale=scale)
            transaction.set_rollback(True)
        return counts["sales.Opportunity"]

    base, doubled = opportunities(1.0), opportunities(2.0)

    # Poisson means x2 (capped at 5 per customer): about twice as many, never fewer.
    assert 1.7 * base < doubled < 2.1 * base
    with pytest.raises(ValueError, match="opportunity scale"):
        demo_seed(customers=10, as_of=AS_OF, opportunity_scale=0)
    with pytest.raises(CommandError, match="opportunity scale"):
        call_command("seed_demo", customers=10, opportunity_scale=5, stdout=StringIO())
