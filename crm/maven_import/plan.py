"""Phase 2: resolve names across files, correct known typos, skip unsafe rows, derive account figures."""

import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.utils.text import slugify
from django.utils.translation import gettext as _

from .parse import ACCOUNTS, PIPELINE, PRODUCTS, TEAMS, Row, name_key, parse_date, parse_int, parse_money
from .report import Correction, Skip

# Maven deal_stage (normalised) -> Fieldwise Stage.code (created by the sales data migration).
STAGE_CODES = {"prospecting": "discovery", "engaging": "communication", "won": "won", "lost": "lost"}
# Known typos of the source, keyed by normalised value.
SECTOR_FIXES = {"technolgy": "technology"}
COUNTRY_FIXES = {"philipines": "Philippines"}
# Tier by rank of annual value: the first 20% of accounts are A, up to 50% B, the rest C.
TIER_CUTS = (("A", 2), ("B", 5))  # tenths of the account count
CADENCE_DAYS = {"A": 14, "B": 30, "C": 60}
CODE_PREFIX = "MVN-"
ANNUAL_WINDOW = timedelta(days=365)


@dataclass
class Person:
    name: str
    username: str = ""
    office: str | None = None
    is_agent: bool = False
    is_manager: bool = False


@dataclass
class Account:
    name: str
    line: int
    sector: str
    country: str
    employees: int | None
    parent_key: str | None
    code: str = ""
    annual_value: Decimal = Decimal(0)
    tier: str = "C"
    owner_key: str | None = None


@dataclass
class ProductSpec:
    name: str
    series: str
    list_price: Decimal


@dataclass
class Deal:
    ref: str
    line: int
    agent_key: str
    product_key: str
    account_key: str | None
    stage_code: str
    engaged: date | None
    closed: date | None
    close_value: Decimal | None


@dataclass
class Plan:
    offices: dict[str, str] = field(default_factory=dict)  # key -> name as first spelled
    people: dict[str, Person] = field(default_factory=dict)
    manager_offices: set[tuple[str, str]] = field(default_factory=set)  # (person key, office key)
    products: dict[str, ProductSpec] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    deals: list[Deal] = field(default_factory=list)


class Corrections:
    """Collects corrections per (file, column, original, corrected) and the rows they touched."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str, str, str]] = Counter()
        self.first_line: dict[tuple[str, str, str, str], int] = {}
        self.rows: set[tuple[str, int]] = set()

    def add(self, *, file: str, line: int, column: str, original: str, corrected: str) -> None:
        key = (file, column, original, corrected)
        self.counts[key] += 1
        self.first_line.setdefault(key, line)
        self.rows.add((file, line))

    def as_list(self) -> list[Correction]:
        return [
            Correction(file=f, column=c, original=o, corrected=n, rows=count, first_line=self.first_line[(f, c, o, n)])
            for (f, c, o, n), count in sorted(self.counts.items(), key=lambda item: self.first_line[item[0]])
        ]


def _resolve(
    value: str, known: dict, *, fixes: Corrections, file: str, line: int, column: str, canonical
) -> str | None:
    """Key of `value` in `known` (None if unknown); records a correction when the spelling differs."""
    key = name_key(value)
    if not value or key not in known:
        return None
    if value != canonical(known[key]):
        fixes.add(file=file, line=line, column=column, original=value, corrected=canonical(known[key]))
    return key


def _username_base(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    parts = [re.sub(r"[^a-z0-9-]", "", part) for part in ascii_name.split()]
    return ".".join(part for part in parts if part)[:140] or "user"


def _assign_usernames(people: dict[str, Person]) -> None:
    """'first.last'; a clash within the file gets 2, 3, ... in name order, so reruns agree."""
    taken: set[str] = set()
    for key in sorted(people):
        base = _username_base(people[key].name)
        username, n = base, 2
        while username in taken:
            username, n = f"{base}{n}", n + 1
        taken.add(username)
        people[key].username = username


def _assign_codes(accounts: dict[str, Account]) -> None:
    taken: set[str] = set()
    for key in sorted(accounts):
        base = (slugify(accounts[key].name).upper() or "ACCOUNT")[: 40 - len(CODE_PREFIX)]
        code, n = CODE_PREFIX + base, 2
        while code in taken:
            suffix = f"-{n}"
            code, n = CODE_PREFIX + base[: 40 - len(CODE_PREFIX) - len(suffix)] + suffix, n + 1
        taken.add(code)
        accounts[key].code = code


def plan_people(rows: list[Row], plan: Plan, skipped: list[Skip], fixes: Corrections) -> None:
    first_line: dict[str, int] = {}
    for row in rows:
        agent, manager, office = (row.values[c] for c in ("sales_agent", "manager", "regional_office"))
        if not agent:
            skipped.append(Skip(file=TEAMS, line=row.line, reason=_("blank sales_agent")))
            continue
        agent_key = name_key(agent)
        if agent_key in first_line:
            reason = _("duplicate sales_agent '%(name)s' (first on line %(line)d)")
            skipped.append(
                Skip(file=TEAMS, line=row.line, reason=reason % {"name": agent, "line": first_line[agent_key]})
            )
            continue
        first_line[agent_key] = row.line
        person = plan.people.setdefault(agent_key, Person(name=" ".join(agent.split())))
        person.is_agent = True
        if office:
            person.office = name_key(office)
            name = plan.offices.setdefault(person.office, " ".join(office.split()))
            if office != name:
                fixes.add(file=TEAMS, line=row.line, column="regional_office", original=office, corrected=name)
        if manager:
            manager_key = name_key(manager)
            boss = plan.people.setdefault(manager_key, Person(name=" ".join(manager.split())))
            boss.is_manager = True
            if person.office:
                plan.manager_offices.add((manager_key, person.office))
    _assign_usernames(plan.people)


def plan_products(rows: list[Row], plan: Plan, skipped: list[Skip]) -> None:
    prices = {row.line: parse_money(row, PRODUCTS, "sales_price") for row in rows}
    first_line: dict[str, int] = {}
    for row in rows:
        name = " ".join(row.values["product"].split())
        if not name:
            skipped.append(Skip(file=PRODUCTS, line=row.line, reason=_("blank product")))
            continue
        if name_key(name) in first_line:
            reason = _("duplicate product '%(name)s' (first on line %(line)d)")
            skipped.append(
                Skip(file=PRODUCTS, line=row.line, reason=reason % {"name": name, "line": first_line[name_key(name)]})
            )
            continue
        first_line[name_key(name)] = row.line
        plan.products[name_key(name)] = ProductSpec(
            name=name, series=row.values["series"], list_price=prices[row.line] or Decimal(0)
        )


def plan_accounts(rows: list[Row], plan: Plan, skipped: list[Skip], fixes: Corrections) -> None:
    for row in rows:  # validate every numeric column first: a bad file stops before any planning
        parse_int(row, ACCOUNTS, "year_established")
        parse_money(row, ACCOUNTS, "revenue")
        parse_int(row, ACCOUNTS, "employees")
    first_line: dict[str, int] = {}
    for row in rows:
        name = " ".join(row.values["account"].split())
        if not name:
            skipped.append(Skip(file=ACCOUNTS, line=row.line, reason=_("blank account")))
            continue
        if name_key(name) in first_line:
            reason = _("duplicate account '%(name)s' (first on line %(line)d)")
            skipped.append(
                Skip(file=ACCOUNTS, line=row.line, reason=reason % {"name": name, "line": first_line[name_key(name)]})
            )
            continue
        first_line[name_key(name)] = row.line
        sector = row.values["sector"].lower()
        country = row.values["office_location"]
        for column, original, fixed in (
            ("sector", sector, SECTOR_FIXES.get(name_key(sector), sector)),
            ("office_location", country, COUNTRY_FIXES.get(name_key(country), country)),
        ):
            if fixed != original:
                fixes.add(file=ACCOUNTS, line=row.line, column=column, original=original, corrected=fixed)
        plan.accounts[name_key(name)] = Account(
            name=name,
            line=row.line,
            sector=SECTOR_FIXES.get(name_key(sector), sector),
            country=COUNTRY_FIXES.get(name_key(country), country),
            employees=parse_int(row, ACCOUNTS, "employees"),
            parent_key=None,
        )
    # Second pass: parents may appear after their subsidiaries.
    for row in rows:
        account = plan.accounts.get(name_key(row.values["account"]))
        parent = row.values["subsidiary_of"]
        if account is None or account.line != row.line or not parent:
            continue
        parent_key = _resolve(
            parent,
            plan.accounts,
            fixes=fixes,
            file=ACCOUNTS,
            line=row.line,
            column="subsidiary_of",
            canonical=lambda a: a.name,
        )
        if parent_key is None or parent_key == name_key(account.name):
            fixes.add(file=ACCOUNTS, line=row.line, column="subsidiary_of", original=parent, corrected="")
        else:
            account.parent_key = parent_key
    _assign_codes(plan.accounts)


def plan_deals(rows: list[Row], plan: Plan, skipped: list[Skip], fixes: Corrections) -> None:
    parsed = {
        row.line: (
            parse_date(row, PIPELINE, "engage_date"),
            parse_date(row, PIPELINE, "close_date"),
            parse_money(row, PIPELINE, "close_value"),
        )
        for row in rows
    }
    agents = {key: person for key, person in plan.people.items() if person.is_agent}
    first_line: dict[str, int] = {}
    for row in rows:
        v, line = row.values, row.line
        engaged, closed, close_value = parsed[line]

        def skip(reason: str, *, _line: int = line) -> None:
            skipped.append(Skip(file=PIPELINE, line=_line, reason=reason))

        ref = v["opportunity_id"]
        if not ref:
            skip(_("blank opportunity_id"))
            continue
        if ref in first_line:
            skip(
                _("duplicate opportunity_id '%(ref)s' (first on line %(line)d)") % {"ref": ref, "line": first_line[ref]}
            )
            continue
        resolve = {"fixes": fixes, "file": PIPELINE, "line": line}
        agent_key = _resolve(v["sales_agent"], agents, column="sales_agent", canonical=lambda p: p.name, **resolve)
        if agent_key is None:
            skip(_("sales agent '%(name)s' is not in %(file)s") % {"name": v["sales_agent"], "file": TEAMS})
            continue
        product_key = _resolve(v["product"], plan.products, column="product", canonical=lambda p: p.name, **resolve)
        if product_key is None:
            skip(_("product '%(name)s' is not in %(file)s") % {"name": v["product"], "file": PRODUCTS})
            continue
        account_key = None
        if v["account"]:
            account_key = _resolve(v["account"], plan.accounts, column="account", canonical=lambda a: a.name, **resolve)
            if account_key is None:
                skip(_("account '%(name)s' is not in %(file)s") % {"name": v["account"], "file": ACCOUNTS})
                continue
        stage_code = STAGE_CODES.get(name_key(v["deal_stage"]))
        if stage_code is None:
            skip(_("unknown deal_stage '%(stage)s'") % {"stage": v["deal_stage"]})
            continue
        if stage_code != "discovery" and engaged is None:
            skip(_("a %(stage)s deal needs an engage_date") % {"stage": v["deal_stage"]})
            continue
        if stage_code in ("won", "lost") and closed is None:
            skip(_("a %(stage)s deal needs a close_date") % {"stage": v["deal_stage"]})
            continue
        if stage_code == "won" and close_value is None:
            skip(_("a Won deal needs a close_value"))
            continue
        if closed is not None and engaged is not None and closed < engaged:
            skip(_("close_date %(closed)s is before engage_date %(engaged)s") % {"closed": closed, "engaged": engaged})
            continue
        if stage_code in ("discovery", "communication") and closed is not None:
            fixes.add(file=PIPELINE, line=line, column="close_date", original=str(closed), corrected="")
            closed = None
        first_line[ref] = line
        plan.deals.append(
            Deal(
                ref=ref,
                line=line,
                agent_key=agent_key,
                product_key=product_key,
                account_key=account_key,
                stage_code=stage_code,
                engaged=engaged,
                closed=closed,
                close_value=close_value,
            )
        )


def plan_account_figures(plan: Plan) -> date | None:
    """Annual value, tier and owner per account; returns the snapshot date (latest date in the pipeline)."""
    dates = [d for deal in plan.deals for d in (deal.engaged, deal.closed) if d is not None]
    closes = [deal.closed for deal in plan.deals if deal.closed is not None]
    window_end = max(closes, default=None)
    deal_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for deal in plan.deals:
        if deal.account_key is None:
            continue
        deal_counts[deal.account_key][deal.agent_key] += 1
        if deal.stage_code == "won" and window_end and window_end - ANNUAL_WINDOW < deal.closed <= window_end:
            plan.accounts[deal.account_key].annual_value += deal.close_value
    for key, account in plan.accounts.items():
        if deal_counts[key]:
            account.owner_key = min(
                deal_counts[key], key=lambda agent: (-deal_counts[key][agent], plan.people[agent].name)
            )
    ranked = sorted(plan.accounts.values(), key=lambda a: (-a.annual_value, a.name.casefold(), a.name))
    for rank, account in enumerate(ranked):
        account.tier = next((tier for tier, tenths in TIER_CUTS if rank * 10 < tenths * len(ranked)), "C")
    return max(dates, default=None)
