"""`import_maven`: the real Maven files, checked against numbers read straight from the CSVs."""

import csv
import re
import shutil
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Sum
from django.utils import timezone

from crm.maven_import import PIPELINE, TEAMS, maven_data_import
from crm.models import Customer, RepProfile, Team
from sales.models import Opportunity, Order, Product, StageChange

DATA_DIR = settings.BASE_DIR / "data" / "maven-crm-sales-opportunities"
STAGE_CODE = {"Prospecting": "discovery", "Engaging": "communication", "Won": "won", "Lost": "lost"}
User = get_user_model()


def read_csv(name: str, directory=DATA_DIR) -> list[dict[str, str]]:
    with open(directory / name, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def noon(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(12), tzinfo=timezone.get_default_timezone())


def full_name(user) -> str:
    return f"{user['owner__first_name']} {user['owner__last_name']}"


def db_state() -> dict[str, object]:
    """Row counts and a few sums/timestamps that any write would move."""
    return {
        "users": User.objects.count(),
        "group links": User.groups.through.objects.count(),
        "teams": Team.objects.count(),
        "team managers": Team.managers.through.objects.count(),
        "rep profiles": RepProfile.objects.count(),
        "products": Product.objects.count(),
        "list prices": Product.objects.aggregate(total=Sum("list_price"))["total"],
        "customers": Customer.objects.count(),
        "opportunities": Opportunity.objects.count(),
        "opportunity amounts": Opportunity.objects.aggregate(total=Sum("amount"))["total"],
        "stage changes": StageChange.objects.count(),
        "orders": Order.objects.count(),
        "last update": max(
            filter(
                None,
                (
                    model.objects.aggregate(last=Max("updated_at"))["last"]
                    for model in (Team, RepProfile, Product, Customer, Opportunity, Order)
                ),
            ),
            default=None,
        ),
    }


@pytest.fixture
def imported(db):
    return maven_data_import(directory=DATA_DIR)


# --- the real files ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_real_files_people_products_and_customers_match_the_csv(imported):
    teams_rows, accounts, products = read_csv("sales_teams.csv"), read_csv("accounts.csv"), read_csv("products.csv")

    assert imported.skipped == []
    assert imported.rows_read == {
        "accounts.csv": len(accounts),
        "products.csv": len(products),
        "sales_teams.csv": len(teams_rows),
        "sales_pipeline.csv": len(read_csv("sales_pipeline.csv")),
    }
    assert User.objects.filter(groups__name="Rep").count() == len({r["sales_agent"] for r in teams_rows}) == 35
    assert User.objects.filter(groups__name="Manager").count() == len({r["manager"] for r in teams_rows})
    assert Team.objects.count() == len({r["regional_office"] for r in teams_rows}) == 3
    assert Product.objects.count() == len(products) == 7
    assert Customer.objects.count() == len(accounts)
    assert not User.objects.filter(groups__name__in=["Rep", "Manager"]).exclude(password__startswith="!").exists()

    # Every rep sits in their office; every manager manages the office(s) of their agents.
    office_of = {
        f"{p.user.first_name} {p.user.last_name}": p.team.name
        for p in RepProfile.objects.select_related("user", "team")
    }
    assert office_of == {r["sales_agent"]: r["regional_office"] for r in teams_rows}
    managers_of = defaultdict(set)
    for row in teams_rows:
        managers_of[row["regional_office"]].add(row["manager"])
    for team in Team.objects.prefetch_related("managers"):
        assert {m.get_full_name() for m in team.managers.all()} == managers_of[team.name]

    prices = {p.name: (p.series, p.list_price) for p in Product.objects.all()}
    assert prices == {r["product"]: (r["series"], Decimal(r["sales_price"])) for r in products}

    # Typos corrected, parents linked, the rest as in the file.
    customers = {c.name: c for c in Customer.objects.select_related("parent")}
    fixes = {"technolgy": "technology", "Philipines": "Philippines"}
    for row in accounts:
        customer = customers[row["account"]]
        assert customer.code.startswith("MVN-")
        assert customer.segment == fixes.get(row["sector"], row["sector"])
        assert customer.country == fixes.get(row["office_location"], row["office_location"])
        assert customer.employees == int(row["employees"])
        assert (customer.parent.name if customer.parent else "") == row["subsidiary_of"]
        assert customer.status == "active"
        assert customer.latitude is None
        assert customer.city == ""
    corrections = {(c.column, c.original, c.corrected): c.rows for c in imported.corrections}
    assert corrections[("sector", "technolgy", "technology")] == sum(r["sector"] == "technolgy" for r in accounts)
    assert corrections[("office_location", "Philipines", "Philippines")] == 1


@pytest.mark.slow
def test_real_files_customer_value_tier_and_owner(imported):
    pipeline = read_csv("sales_pipeline.csv")
    window_end = max(date.fromisoformat(r["close_date"]) for r in pipeline if r["close_date"])
    value, deals = Counter(), defaultdict(Counter)
    for row in pipeline:
        if row["account"]:
            deals[row["account"]][row["sales_agent"]] += 1
        if row["deal_stage"] == "Won" and date.fromisoformat(row["close_date"]) > window_end - timedelta(days=365):
            value[row["account"]] += int(row["close_value"])
    ranked = sorted(read_csv("accounts.csv"), key=lambda r: (-value[r["account"]], r["account"].casefold()))
    n_a, n_b = -(-len(ranked) * 2 // 10), -(-len(ranked) * 5 // 10)  # ceil: first 20% A, up to 50% B

    customers = {c.name: c for c in Customer.objects.select_related("owner")}
    for rank, row in enumerate(ranked):
        customer = customers[row["account"]]
        tier = "A" if rank < n_a else "B" if rank < n_b else "C"
        assert customer.annual_value == value[row["account"]], row["account"]
        assert (customer.tier, customer.visit_cadence_days) == (tier, {"A": 14, "B": 30, "C": 60}[tier])
        top = min(deals[row["account"]].items(), key=lambda item: (-item[1], item[0]))[0]
        assert customer.owner.get_full_name() == top
    assert Counter(c.tier for c in customers.values()) == {"A": n_a, "B": n_b - n_a, "C": len(ranked) - n_b}


@pytest.mark.slow
def test_real_files_pipeline_matches_the_csv_per_stage_and_agent(imported):
    pipeline = read_csv("sales_pipeline.csv")
    products = {r["product"].replace(" ", ""): Decimal(r["sales_price"]) for r in read_csv("products.csv")}
    opportunities = Opportunity.objects.filter(external_ref__isnull=False)

    assert opportunities.count() == len(pipeline)
    per_stage = dict(opportunities.values_list("stage__code").annotate(n=Count("id")))
    assert per_stage == {STAGE_CODE[stage]: n for stage, n in Counter(r["deal_stage"] for r in pipeline).items()}

    expected = defaultdict(lambda: {"won": 0, "lost": 0, "won_amount": Decimal(0)})
    for row in pipeline:
        if row["deal_stage"] in ("Won", "Lost"):
            expected[row["sales_agent"]][row["deal_stage"].lower()] += 1
        if row["deal_stage"] == "Won":
            expected[row["sales_agent"]]["won_amount"] += int(row["close_value"])
    actual = defaultdict(lambda: {"won": 0, "lost": 0, "won_amount": Decimal(0)})
    for row in (
        opportunities.filter(stage__code__in=["won", "lost"])
        .values("owner__first_name", "owner__last_name", "stage__code")
        .annotate(n=Count("id"), total=Sum("amount"))
    ):
        actual[full_name(row)][row["stage__code"]] = row["n"]
        if row["stage__code"] == "won":
            actual[full_name(row)]["won_amount"] = row["total"]
    assert actual == expected
    assert len(actual) == 30  # only 30 of the 35 agents have closed deals

    no_account = sum(not r["account"] for r in pipeline)
    assert opportunities.filter(customer__isnull=True).count() == no_account == imported.leads_without_customer
    assert not opportunities.filter(customer__isnull=True, stage__code__in=["won", "lost"]).exists()

    # Lost and open deals carry the product's list price; 'GTXPro' rows became 'GTX Pro'.
    open_or_lost = Counter(r["product"] for r in pipeline if r["deal_stage"] != "Won")
    assert opportunities.exclude(stage__code="won").aggregate(total=Sum("amount"))["total"] == sum(
        products[name.replace(" ", "")] * n for name, n in open_or_lost.items()
    )
    gtx_pro_rows = sum(r["product"] == "GTXPro" for r in pipeline)
    assert opportunities.filter(product__name="GTX Pro").count() == gtx_pro_rows
    assert any(
        c.original == "GTXPro" and c.corrected == "GTX Pro" and c.rows == gtx_pro_rows for c in imported.corrections
    )

    won = [r for r in pipeline if r["deal_stage"] == "Won"]
    assert Order.objects.count() == len(won)
    assert Order.objects.aggregate(total=Sum("amount"))["total"] == sum(int(r["close_value"]) for r in won)
    expected_changes = sum(1 + (r["deal_stage"] != "Prospecting") + bool(r["close_date"]) for r in pipeline)
    assert StageChange.objects.count() == expected_changes


@pytest.mark.slow
def test_real_files_stage_history_of_known_rows(imported):
    won = Opportunity.objects.select_related("customer", "owner", "product", "stage").get(external_ref="1C1I7A6R")
    assert (won.stage.code, won.amount, won.probability) == ("won", Decimal("1054"), Decimal("1"))
    assert (won.customer.name, won.owner.get_full_name(), won.product.name) == (
        "Cancity",
        "Moses Frase",
        "GTX Plus Basic",
    )
    assert (won.opened_at, won.closed_at) == (noon("2016-10-20"), noon("2017-03-01"))
    history = list(won.stage_changes.values_list("from_stage__code", "to_stage__code", "changed_at", "changed_by"))
    assert history == [
        (None, "discovery", noon("2016-10-20"), None),
        ("discovery", "communication", noon("2016-10-20"), None),
        ("communication", "won", noon("2017-03-01"), None),
    ]
    assert (won.order.amount, won.order.ordered_at, won.order.fulfilled_at) == (1054, noon("2017-03-01"), None)

    pipeline = {r["opportunity_id"]: r for r in read_csv("sales_pipeline.csv")}
    snapshot = max(d for r in pipeline.values() for d in (r["engage_date"], r["close_date"]) if d)
    lost_ref = next(ref for ref, r in pipeline.items() if r["deal_stage"] == "Lost")
    lead_ref = next(ref for ref, r in pipeline.items() if r["deal_stage"] == "Prospecting" and not r["account"])
    lost = Opportunity.objects.get(external_ref=lost_ref)
    assert (lost.stage.code, lost.probability, lost.closed_at) == ("lost", 0, noon(pipeline[lost_ref]["close_date"]))
    assert list(lost.stage_changes.values_list("to_stage__code", "changed_at")) == [
        ("discovery", noon(pipeline[lost_ref]["engage_date"])),
        ("communication", noon(pipeline[lost_ref]["engage_date"])),
        ("lost", noon(pipeline[lost_ref]["close_date"])),
    ]
    assert not Order.objects.filter(opportunity=lost).exists()
    lead = Opportunity.objects.get(external_ref=lead_ref)
    assert (lead.customer, lead.stage.code, lead.closed_at, lead.opened_at) == (None, "discovery", None, noon(snapshot))
    assert lead.amount == lead.product.list_price
    assert list(lead.stage_changes.values_list("from_stage", "to_stage__code")) == [(None, "discovery")]


@pytest.mark.slow
def test_real_files_second_run_changes_nothing(imported, django_assert_max_num_queries):
    before = db_state()

    with django_assert_max_num_queries(20):  # a fixed handful of reads, whatever the row count
        second = maven_data_import(directory=DATA_DIR)

    assert db_state() == before
    changes = {key: (c.created, c.updated, c.deleted) for key, c in second.counts.items()}
    assert changes == dict.fromkeys(second.counts, (0, 0, 0))
    assert {key: c.unchanged for key, c in second.counts.items()} == {
        key: c.created for key, c in imported.counts.items()
    }
    assert second.counts["opportunities"].unchanged == len(read_csv("sales_pipeline.csv"))
    assert imported.changed
    assert not second.changed
    assert "Nothing changed: the database already matched the files." in second.summary_lines()

    out = StringIO()
    call_command("import_maven", str(DATA_DIR), stdout=out)  # the command prints the same report
    assert "Nothing changed" in out.getvalue()
    rows = sum(len(read_csv(name)) for name in ("accounts.csv", "products.csv", "sales_teams.csv", PIPELINE))
    typos = sum(r["sector"] == "technolgy" or r["office_location"] == "Philipines" for r in read_csv("accounts.csv"))
    merged = typos + sum(r["product"] == "GTXPro" for r in read_csv(PIPELINE))
    assert f"{rows} rows imported, {merged} merged or corrected, 0 skipped." in out.getvalue()
    assert db_state() == before


@pytest.mark.slow
def test_real_files_first_import_uses_bulk_queries(db, django_assert_max_num_queries):
    # 8,800 pipeline rows and ~24,000 stage changes; per-row writes would be tens of thousands of queries.
    with django_assert_max_num_queries(400):
        report = maven_data_import(directory=DATA_DIR)
    assert report.counts["opportunities"].created == 8800


# --- bad files ------------------------------------------------------------------------------------------------------


def _drop_column(path, column):
    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    index = rows[0].index(column)
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([row[:index] + row[index + 1 :] for row in rows])


def _replace_on_line(path, line, old: bytes, new: bytes):
    lines = path.read_bytes().split(b"\r\n")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_bytes(b"\r\n".join(lines))


LAST_PIPELINE_LINE = 8801  # header + 8,800 rows; an error on the last line proves nothing was written before it

BAD_FILES = {
    "missing column": (lambda d: _drop_column(d / PIPELINE, "close_value"), PIPELINE, 1, "close_value"),
    "not UTF-8": (
        lambda d: _replace_on_line(d / "accounts.csv", 5, b"Bioholding", "Bioh\u00f6lding".encode("latin-1")),
        "accounts.csv",
        5,
        "account",
    ),
    "non-numeric close_value": (
        lambda d: _replace_on_line(d / PIPELINE, LAST_PIPELINE_LINE, b"Prospecting,,,", b"Prospecting,,,n/a"),
        PIPELINE,
        LAST_PIPELINE_LINE,
        "close_value",
    ),
    "bad date": (
        lambda d: _replace_on_line(d / PIPELINE, 3, b"2016-10-25", b"2016-02-30"),
        PIPELINE,
        3,
        "engage_date",
    ),
    "missing file": (lambda d: (d / TEAMS).unlink(), TEAMS, None, None),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_stops_naming_file_line_and_column_and_changes_nothing(case, imported, tmp_path):
    directory = tmp_path / "maven"
    shutil.copytree(DATA_DIR, directory)
    # A valid change too: if anything were written before the error, this price would move.
    _replace_on_line(directory / "products.csv", 2, b"GTX Basic,GTX,550", b"GTX Basic,GTX,551")
    break_file, file, line, column = BAD_FILES[case]
    break_file(directory)
    before = db_state()

    with pytest.raises(CommandError) as error:
        call_command("import_maven", str(directory), stdout=StringIO())

    message = str(error.value)
    assert file in message
    if line is not None:
        assert f"line {line}," in message
        assert f"column {column}" in message
    else:
        assert "not found" in message
    assert db_state() == before
    assert Product.objects.get(name="GTX Basic").list_price == 550


# --- small hand-made files: skips, corrections, users ---------------------------------------------------------------


def write_dataset(directory, **files: str) -> None:
    directory.mkdir(exist_ok=True)
    for name, body in files.items():
        (directory / f"{name}.csv").write_text(body.strip() + "\n", encoding="utf-8")


SMALL = {
    "sales_teams": """
sales_agent,manager,regional_office
Ann Lee,Max Boss,East
Ann Lee,Other Boss,West
José Núñez,Max Boss,East
Jose Nunez,Sue Chief,West
""",
    "products": """
product,series,sales_price
GTX Pro,GTX,100
MG Special,MG,55
""",
    "accounts": """
account,sector,year_established,revenue,employees,office_location,subsidiary_of
Acme,technolgy,2000,1.50,10,Philipines,
Beta,retail,2001,2.50,20,United States,Acme
Gamma,retail,2002,3,30,Japan,Nowhere Inc
""",
    "sales_pipeline": """
opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value
A1,Ann Lee,GTXPro,Acme,Won,2017-01-01,2017-02-01,120
A1,Ann Lee,GTX Pro,Acme,Lost,2017-01-01,2017-02-01,0
A2,Nobody Here,GTX Pro,Acme,Won,2017-01-01,2017-02-01,50
A3,Ann Lee,GTX Pro,Zeta,Lost,2017-01-01,2017-02-01,0
A4,Ann Lee,GTX Pro,Acme,Negotiating,2017-01-01,,
A5,Ann Lee,GTX Pro,Acme,Lost,2017-03-01,2017-02-01,0
A6,Max Boss,MG Special,Gamma,Engaging,2017-01-03,,
A7,Jose Nunez,MG Special,,Prospecting,,,
A8,ann  lee,MG Special,beta,Engaging,2017-01-05,,
A9,José Núñez,MG Special,Gamma,Won,2017-01-04,2017-01-06,40
""",
}


def test_small_files_skip_unsafe_rows_with_line_and_reason(db, tmp_path):
    write_dataset(tmp_path, **SMALL)
    existing = User.objects.create_user(username="ann.lee", password="keep-me-123", first_name="Ann", last_name="Lee")

    report = maven_data_import(directory=tmp_path)

    skipped = [(s.file, s.line) for s in report.skipped]
    assert skipped == [
        (TEAMS, 3),
        (PIPELINE, 3),
        (PIPELINE, 4),
        (PIPELINE, 5),
        (PIPELINE, 6),
        (PIPELINE, 7),
        (PIPELINE, 8),
    ]
    reasons = [s.reason for s in report.skipped]
    assert "duplicate sales_agent 'Ann Lee' (first on line 2)" in reasons[0]
    assert "duplicate opportunity_id 'A1' (first on line 2)" in reasons[1]
    assert "'Nobody Here' is not in sales_teams.csv" in reasons[2]
    assert "'Zeta' is not in accounts.csv" in reasons[3]
    assert "unknown deal_stage 'Negotiating'" in reasons[4]
    assert "close_date 2017-02-01 is before engage_date 2017-03-01" in reasons[5]
    assert "'Max Boss' is not in sales_teams.csv" in reasons[6]  # a manager is not an agent
    assert (report.rows_imported, report.rows_skipped) == (4 + 2 + 3 + 10 - 7, 7)
    assert set(Opportunity.objects.values_list("external_ref", flat=True)) == {"A1", "A7", "A8", "A9"}
    assert report.leads_without_customer == 1

    fixes = {(c.file, c.column, c.original, c.corrected, c.rows, c.first_line) for c in report.corrections}
    assert fixes == {
        ("accounts.csv", "sector", "technolgy", "technology", 1, 2),
        ("accounts.csv", "office_location", "Philipines", "Philippines", 1, 2),
        ("accounts.csv", "subsidiary_of", "Nowhere Inc", "", 1, 4),
        (PIPELINE, "product", "GTXPro", "GTX Pro", 1, 2),
        (PIPELINE, "sales_agent", "ann  lee", "Ann Lee", 1, 10),
        (PIPELINE, "account", "beta", "Beta", 1, 10),
    }
    assert report.merged_rows == 4  # accounts line 2 and pipeline line 10 carry two corrections each

    # Usernames: ascii 'first.last', clashes numbered in name order; the existing user is reused, not reset.
    assert set(User.objects.values_list("username", flat=True)) == {
        "ann.lee",
        "jose.nunez",
        "jose.nunez2",
        "max.boss",
        "sue.chief",
    }
    existing.refresh_from_db()
    assert existing.check_password("keep-me-123")
    assert set(existing.groups.values_list("name", flat=True)) == {"Rep"}
    assert User.objects.get(username="jose.nunez2").get_full_name() == "José Núñez"
    assert not User.objects.get(username="max.boss").has_usable_password()
    assert (report.counts["reps"].created, report.counts["reps"].updated) == (2, 1)
    assert (report.counts["managers"].created, report.counts["managers"].updated) == (2, 0)
    assert set(Team.objects.get(name="West").managers.values_list("username", flat=True)) == {"sue.chief"}
    assert set(Team.objects.get(name="East").managers.values_list("username", flat=True)) == {"max.boss"}

    # Acme: 120 won -> A; Beta and Gamma 0, Gamma also has a won deal but of 40 -> B; Beta C.
    customers = {c.name: c for c in Customer.objects.select_related("owner", "parent")}
    assert {name: (c.annual_value, c.tier) for name, c in customers.items()} == {
        "Acme": (120, "A"),
        "Gamma": (40, "B"),
        "Beta": (0, "C"),
    }
    assert customers["Beta"].parent == customers["Acme"]
    assert customers["Gamma"].parent is None
    assert customers["Acme"].owner.username == "ann.lee"
    assert customers["Gamma"].owner.username == "jose.nunez2"
    assert customers["Acme"].code == "MVN-ACME"


def test_small_files_rerun_after_a_change_updates_only_that(db, tmp_path):
    write_dataset(tmp_path, **SMALL)
    maven_data_import(directory=tmp_path)
    # The next export: A8 was won, Ann moved to the West office.
    changed = dict(SMALL)
    changed["sales_pipeline"] = SMALL["sales_pipeline"].replace(
        "A8,ann  lee,MG Special,beta,Engaging,2017-01-05,,", "A8,Ann Lee,MG Special,Beta,Won,2017-01-05,2017-01-09,60"
    )
    changed["sales_teams"] = SMALL["sales_teams"].replace("Ann Lee,Max Boss,East", "Ann Lee,Max Boss,West")
    write_dataset(tmp_path, **changed)

    report = maven_data_import(directory=tmp_path)

    a8 = Opportunity.objects.get(external_ref="A8")
    assert (a8.stage.code, a8.amount, a8.closed_at) == ("won", 60, noon("2017-01-09"))
    assert list(a8.stage_changes.values_list("to_stage__code", flat=True)) == ["discovery", "communication", "won"]
    assert a8.order.amount == 60
    assert User.objects.get(username="ann.lee").rep_profile.team.name == "West"
    assert (report.counts["opportunities"].updated, report.counts["opportunities"].unchanged) == (1, 3)
    assert (report.counts["stage_changes"].created, report.counts["stage_changes"].deleted) == (1, 0)
    assert report.counts["orders"].created == 1
    assert report.counts["reps"].updated == 1
    # Beta's annual value is now 60 (won in the window): Beta becomes B, Gamma C.
    assert Customer.objects.get(name="Beta").annual_value == 60
    assert (report.counts["customers"].updated, report.counts["customers"].unchanged) == (2, 1)


def test_small_files_dry_run_reports_and_rolls_back(db, tmp_path):
    write_dataset(tmp_path, **SMALL)
    out = StringIO()

    call_command("import_maven", str(tmp_path), "--dry-run", stdout=out)

    assert "Dry run" in out.getvalue()
    assert "opportunities" in out.getvalue()
    assert (Opportunity.objects.count(), Customer.objects.count(), Team.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        (
            "products",
            "product,series,sales_price\nGTX Pro,GTX,100\n".encode("utf-16"),
            "products.csv, line 1, column 1: bytes that are not valid UTF-8",
        ),
        (
            "accounts",
            b"account,sector,year_established,revenue,employees,office_location,subsidiary_of\n"
            b"Acme,retail,2000,1.5,10,Japan,\nBeta,retail,2001,2.5,twenty,Japan,\n",
            "accounts.csv, line 3, column employees: 'twenty' is not a whole non-negative number",
        ),
        (
            "sales_pipeline",
            b"opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
            b"A1,Ann Lee,GTX Pro,Acme,Won,2017-01-01,2017-02-01\n",
            "sales_pipeline.csv, line 2, column close_value: 7 fields where the header has 8",
        ),
        (
            "sales_pipeline",
            b"opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
            b"A1,Ann Lee,GTX Pro,Acme,Won,2017-01-01,01/02/2017,5\n",
            "sales_pipeline.csv, line 2, column close_date: '01/02/2017' is not a date (YYYY-MM-DD)",
        ),
        (
            "sales_pipeline",
            b"opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
            b"A1,Ann Lee,GTX Pro,Acme,Won,2017-01-01,2017-02-01,-5\n",
            "sales_pipeline.csv, line 2, column close_value: '-5' is not a non-negative amount",
        ),
    ],
    ids=["utf-16", "non-numeric employees", "short row", "other date format", "negative close_value"],
)
def test_small_files_structural_errors_name_file_line_and_column(db, tmp_path, name, body, expected):
    write_dataset(tmp_path, **SMALL)
    (tmp_path / f"{name}.csv").write_bytes(body)

    with pytest.raises(CommandError, match=re.escape(expected)):
        call_command("import_maven", str(tmp_path), stdout=StringIO())

    assert User.objects.count() == Opportunity.objects.count() == Product.objects.count() == 0
