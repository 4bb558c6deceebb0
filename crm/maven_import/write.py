"""Phase 3: diff the plan against the database and apply it with bulk operations."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import Role
from crm.models import Customer, RepProfile, Team
from sales.models import Opportunity, Order, Product, Stage, StageChange

from .parse import name_key
from .plan import CADENCE_DAYS, STAGE_CODES, Account, Deal, Plan
from .report import MavenImportError, MavenImportReport

BATCH_SIZE = 1000


def at_noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.get_default_timezone())


def _apply(obj: models.Model, values: dict) -> set[str]:
    """Set `values` on `obj`; returns the names of the fields that differed."""
    changed = set()
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(name)
    return changed


def _bulk_update(model: type[models.Model], changes: list[tuple[models.Model, set[str]]]) -> None:
    """bulk_update grouped by the fields that changed, stamping `updated_at`.

    Django writes one CASE arm per row and field; updating only what changed keeps
    a rerun after a small change fast even when thousands of rows are touched.
    """
    now = timezone.now()
    groups: dict[frozenset[str], list[models.Model]] = defaultdict(list)
    for obj, names in changes:
        obj.updated_at = now
        groups[frozenset(names)].append(obj)
    for names, objs in groups.items():
        fields = [name.removesuffix("_id") for name in sorted(names)]
        model.objects.bulk_update(objs, [*fields, "updated_at"], batch_size=BATCH_SIZE)


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def write_teams(plan: Plan, report: MavenImportReport) -> dict[str, Team]:
    # Few rows: match all teams by key, so 'central' in the database is the file's 'Central'.
    teams = {name_key(team.name): team for team in Team.objects.all()}
    new = [Team(name=name) for key, name in plan.offices.items() if key not in teams]
    Team.objects.bulk_create(new, batch_size=BATCH_SIZE)
    if new:
        teams = {name_key(team.name): team for team in Team.objects.all()}
    report.counts["teams"].created += len(new)
    report.counts["teams"].unchanged += len(plan.offices) - len(new)
    return {key: teams[key] for key in plan.offices}


def write_people(plan: Plan, teams: dict[str, Team], report: MavenImportReport) -> dict[str, int]:
    """Users, role groups, rep profiles and team managers; returns user id by person key."""
    user_model = get_user_model()
    by_username = {person.username: key for key, person in plan.people.items()}
    users = {u.username: u for u in user_model.objects.filter(username__in=by_username)}
    changed: set[str] = set()
    new, renamed = [], []
    for key, person in plan.people.items():
        first, _sep, last = person.name.partition(" ")
        names = {"first_name": first, "last_name": last}
        user = users.get(person.username)
        if user is None:
            user = user_model(username=person.username, **names)
            user.set_unusable_password()  # admins set passwords; nobody can log in with a guess
            new.append(user)
        elif _apply(user, names):
            renamed.append(user)
            changed.add(key)
    user_model.objects.bulk_create(new, batch_size=BATCH_SIZE)
    user_model.objects.bulk_update(renamed, ["first_name", "last_name"], batch_size=BATCH_SIZE)
    if new:
        users = {u.username: u for u in user_model.objects.filter(username__in=by_username)}
    user_ids = {key: users[person.username].pk for key, person in plan.people.items()}

    groups = {g.name: g.pk for g in Group.objects.filter(name__in=[Role.REP.value, Role.MANAGER.value])}
    for role in (Role.REP, Role.MANAGER):
        if role.value not in groups:
            groups[role.value] = Group.objects.create(name=role.value).pk
    wanted_groups = {
        (user_ids[key], groups[role.value], key)
        for key, person in plan.people.items()
        for role, has in ((Role.REP, person.is_agent), (Role.MANAGER, person.is_manager))
        if has
    }
    membership = user_model.groups.through
    have = set(
        membership.objects.filter(user_id__in=user_ids.values(), group_id__in=groups.values()).values_list(
            "user_id", "group_id"
        )
    )
    missing = [(uid, gid, key) for uid, gid, key in sorted(wanted_groups) if (uid, gid) not in have]
    membership.objects.bulk_create([membership(user_id=uid, group_id=gid) for uid, gid, name_key in missing])
    changed.update(key for _uid, _gid, key in missing)

    agents = {key: person for key, person in plan.people.items() if person.is_agent}
    profiles = {p.user_id: p for p in RepProfile.objects.filter(user_id__in=[user_ids[k] for k in agents])}
    new_profiles, moved = [], []
    for key, person in agents.items():
        team_id = teams[person.office].pk if person.office else None
        profile = profiles.get(user_ids[key])
        if profile is None:
            new_profiles.append(RepProfile(user_id=user_ids[key], team_id=team_id))
            changed.add(key)
        elif profile.team_id != team_id:
            profile.team_id, profile.updated_at = team_id, timezone.now()
            moved.append(profile)
            changed.add(key)
    RepProfile.objects.bulk_create(new_profiles, batch_size=BATCH_SIZE)
    RepProfile.objects.bulk_update(moved, ["team", "updated_at"], batch_size=BATCH_SIZE)

    managed = Team.managers.through
    wanted_links = {(teams[office].pk, user_ids[key], key) for key, office in plan.manager_offices}
    have = set(managed.objects.filter(team_id__in=[t.pk for t in teams.values()]).values_list("team_id", "user_id"))
    missing = [(tid, uid, key) for tid, uid, key in sorted(wanted_links) if (tid, uid) not in have]
    managed.objects.bulk_create([managed(team_id=tid, user_id=uid) for tid, uid, name_key in missing])
    changed.update(key for _tid, _uid, key in missing)

    created = {by_username[user.username] for user in new}
    for key, person in plan.people.items():
        counts = report.counts["reps" if person.is_agent else "managers"]
        if key in created:
            counts.created += 1
        elif key in changed:
            counts.updated += 1
        else:
            counts.unchanged += 1
    return user_ids


def write_products(plan: Plan, report: MavenImportReport) -> dict[str, int]:
    existing = {name_key(p.name): p for p in Product.objects.all()}
    new, updated = [], []
    for key, spec in plan.products.items():
        values = {"series": spec.series, "list_price": spec.list_price}
        product = existing.get(key)
        if product is None:
            new.append(Product(name=spec.name, **values))
        elif changed := _apply(product, values):
            updated.append((product, changed))
    Product.objects.bulk_create(new, batch_size=BATCH_SIZE)
    _bulk_update(Product, updated)
    if new:
        existing = {name_key(p.name): p for p in Product.objects.all()}
    counts = report.counts["products"]
    counts.created += len(new)
    counts.updated += len(updated)
    counts.unchanged += len(plan.products) - len(new) - len(updated)
    return {key: existing[key].pk for key in plan.products}


def write_customers(plan: Plan, user_ids: dict[str, int], report: MavenImportReport) -> dict[str, int]:
    codes = [account.code for account in plan.accounts.values()]
    existing = {c.code: c for c in Customer.objects.filter(code__in=codes)}
    created_codes = set()
    updated: dict[str, tuple[Customer, set[str]]] = {}

    def values(account: Account) -> dict:
        return {
            "name": account.name,
            "segment": account.sector,
            "country": account.country,
            "employees": account.employees,
            "annual_value": account.annual_value,
            "tier": account.tier,
            "visit_cadence_days": CADENCE_DAYS[account.tier],
            "owner_id": user_ids[account.owner_key] if account.owner_key else None,
        }

    new = []
    for account in plan.accounts.values():
        customer = existing.get(account.code)
        if customer is None:
            new.append(Customer(code=account.code, status=Customer.Status.ACTIVE, **values(account)))
            created_codes.add(account.code)
        elif changed := _apply(customer, values(account)):
            updated[account.code] = (customer, changed)
    Customer.objects.bulk_create(new, batch_size=BATCH_SIZE)
    if new:
        existing = {c.code: c for c in Customer.objects.filter(code__in=codes)}
    # Parents once every account has an id.
    for account in plan.accounts.values():
        customer = existing[account.code]
        parent_id = existing[plan.accounts[account.parent_key].code].pk if account.parent_key else None
        if customer.parent_id != parent_id:
            customer.parent_id = parent_id
            updated.setdefault(account.code, (customer, set()))[1].add("parent_id")
    _bulk_update(Customer, list(updated.values()))
    counts = report.counts["customers"]
    counts.created += len(created_codes)
    counts.updated += len(set(updated) - created_codes)
    counts.unchanged += len(plan.accounts) - len(created_codes) - len(set(updated) - created_codes)
    return {key: existing[account.code].pk for key, account in plan.accounts.items()}


def _stage_history(deal: Deal, stages: dict[str, Stage], opened_at: datetime) -> list[tuple[int | None, int, datetime]]:
    """(from stage id, to stage id, when) of a deal: opened in Discovery, engaged, closed."""
    history = [(None, stages["discovery"].pk, opened_at)]
    if deal.stage_code != "discovery":
        history.append((stages["discovery"].pk, stages["communication"].pk, at_noon(deal.engaged)))
    if deal.stage_code in ("won", "lost"):
        history.append((stages["communication"].pk, stages[deal.stage_code].pk, at_noon(deal.closed)))
    return history


def write_deals(
    plan: Plan,
    *,
    stages: dict[str, Stage],
    user_ids: dict[str, int],
    product_ids: dict[str, int],
    customer_ids: dict[str, int],
    snapshot: datetime,
    report: MavenImportReport,
) -> None:
    fields = ("customer_id", "owner_id", "product_id", "stage_id", "amount", "probability", "probability_manual")
    fields += ("opened_at", "closed_at")
    existing = {
        o.external_ref: o
        for o in Opportunity.objects.filter(external_ref__isnull=False).only("id", "external_ref", *fields)
    }
    new, updated, opened = [], [], {}
    for deal in plan.deals:
        stage = stages[deal.stage_code]
        opened[deal.ref] = at_noon(deal.engaged) if deal.engaged else snapshot
        values = {
            "customer_id": customer_ids[deal.account_key] if deal.account_key else None,
            "owner_id": user_ids[deal.agent_key],
            "product_id": product_ids[deal.product_key],
            "stage_id": stage.pk,
            "amount": deal.close_value if deal.stage_code == "won" else plan.products[deal.product_key].list_price,
            "probability": stage.default_probability,
            "probability_manual": False,
            "opened_at": opened[deal.ref],
            "closed_at": at_noon(deal.closed) if deal.stage_code in ("won", "lost") else None,
        }
        opportunity = existing.get(deal.ref)
        if opportunity is None:
            opportunity = Opportunity(external_ref=deal.ref, **values)
            new.append(opportunity)
            existing[deal.ref] = opportunity
        elif changed := _apply(opportunity, values):
            updated.append((opportunity, changed))
    Opportunity.objects.bulk_create(new, batch_size=BATCH_SIZE)
    _bulk_update(Opportunity, updated)
    if any(o.pk is None for o in new):  # backends that cannot return ids from a bulk insert
        ids = dict(Opportunity.objects.filter(external_ref__isnull=False).values_list("external_ref", "id"))
        for opportunity in new:
            opportunity.pk = ids[opportunity.external_ref]
    counts = report.counts["opportunities"]
    counts.created += len(new)
    counts.updated += len(updated)
    counts.unchanged += len(plan.deals) - len(new) - len(updated)
    opp_ids = {deal.ref: existing[deal.ref].pk for deal in plan.deals}

    # Stage history: the import owns the rows without a `changed_by` of its opportunities; moves people made stay.
    ours = set(opp_ids.values())
    history_have: dict[int, list[tuple[int, int | None, int, datetime]]] = defaultdict(list)
    for row in (
        StageChange.objects.filter(opportunity__external_ref__isnull=False, changed_by__isnull=True)
        .order_by("id")
        .values_list("id", "opportunity_id", "from_stage_id", "to_stage_id", "changed_at")
    ):
        if row[1] in ours:
            history_have[row[1]].append((row[0], row[2], row[3], row[4]))
    new_changes, stale, kept = [], [], 0
    for deal in plan.deals:
        opp_id = opp_ids[deal.ref]
        remaining = list(history_have.pop(opp_id, []))
        for from_id, to_id, at in _stage_history(deal, stages, opened[deal.ref]):
            match = next((i for i, row in enumerate(remaining) if row[1:] == (from_id, to_id, at)), None)
            if match is None:
                new_changes.append(
                    StageChange(opportunity_id=opp_id, from_stage_id=from_id, to_stage_id=to_id, changed_at=at)
                )
            else:
                remaining.pop(match)
                kept += 1
        stale.extend(row[0] for row in remaining)
    StageChange.objects.bulk_create(new_changes, batch_size=BATCH_SIZE)
    for ids in _chunks(stale):
        StageChange.objects.filter(id__in=ids).delete()
    counts = report.counts["stage_changes"]
    counts.created += len(new_changes)
    counts.deleted += len(stale)
    counts.unchanged += kept

    # Orders: one per Won deal. An order of a deal that is no longer won is kept (it may be fulfilled) and noted.
    orders = {o.opportunity_id: o for o in Order.objects.filter(opportunity__external_ref__isnull=False)}
    new_orders, updated_orders, kept, orphaned = [], [], 0, 0
    for deal in plan.deals:
        order = orders.get(opp_ids[deal.ref])
        if deal.stage_code != "won":
            orphaned += order is not None
            continue
        values = {"amount": deal.close_value, "ordered_at": at_noon(deal.closed)}
        if order is None:
            new_orders.append(Order(opportunity_id=opp_ids[deal.ref], **values))
        elif changed := _apply(order, values):
            updated_orders.append((order, changed))
        else:
            kept += 1
    Order.objects.bulk_create(new_orders, batch_size=BATCH_SIZE)
    _bulk_update(Order, updated_orders)
    counts = report.counts["orders"]
    counts.created += len(new_orders)
    counts.updated += len(updated_orders)
    counts.unchanged += kept
    if orphaned:
        report.notes.append(
            _("%(count)d orders belong to imported deals that the file no longer shows as Won; they were kept.")
            % {"count": orphaned}
        )


def load_stages() -> dict[str, Stage]:
    stages = {stage.code: stage for stage in Stage.objects.filter(code__in=set(STAGE_CODES.values()))}
    missing = sorted(set(STAGE_CODES.values()) - set(stages))
    if missing:
        raise MavenImportError(
            file="sales.Stage",
            message=_("stages %(codes)s are missing; run the migrations first") % {"codes": ", ".join(missing)},
        )
    return stages
