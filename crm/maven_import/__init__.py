"""Import of the Maven "CRM Sales Opportunities" export (four CSVs) into Fieldwise.

Three phases, so a bad file never leaves half an import behind:

1. parse: read and validate all four files in memory (structural errors raise
   `MavenImportError` naming file, line and column, before any write);
2. plan: resolve names across files (normalised keys), correct known typos, skip
   unsafe rows with a reason, derive annual value, tier and owner per account;
3. write: diff the plan against the database and apply it with bulk operations
   inside one transaction. Every row is keyed (username, team and product name,
   customer code, opportunity `external_ref`), so a second run changes nothing.

The source and its quirks are described in data/maven-crm-sales-opportunities/SOURCE.md.
"""

from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .parse import ACCOUNTS, PIPELINE, PRODUCTS, TEAMS, read_csv
from .plan import (
    Corrections,
    Plan,
    plan_account_figures,
    plan_accounts,
    plan_deals,
    plan_people,
    plan_products,
)
from .report import Correction, EntityCounts, MavenImportError, MavenImportReport, Skip
from .write import at_noon, load_stages, write_customers, write_deals, write_people, write_products, write_teams

__all__ = [
    "ACCOUNTS",
    "PIPELINE",
    "PRODUCTS",
    "TEAMS",
    "Correction",
    "EntityCounts",
    "MavenImportError",
    "MavenImportReport",
    "Skip",
    "maven_data_import",
]


@transaction.atomic
def maven_data_import(*, directory: Path, dry_run: bool = False) -> MavenImportReport:
    """Import (or re-import) the Maven export in `directory`; one transaction, nothing written on error."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MavenImportError(file=str(directory), message=_("not a directory"))
    report = MavenImportReport(directory=directory, dry_run=dry_run)
    # Phase 1: read and validate all four files before anything touches the database.
    rows = {filename: read_csv(directory=directory, filename=filename) for filename in (TEAMS, PRODUCTS, ACCOUNTS)}
    rows[PIPELINE] = read_csv(directory=directory, filename=PIPELINE)
    report.rows_read = {filename: len(rows[filename]) for filename in (ACCOUNTS, PRODUCTS, TEAMS, PIPELINE)}

    # Phase 2: plan.
    plan, fixes = Plan(), Corrections()
    plan_people(rows[TEAMS], plan, report.skipped, fixes)
    plan_products(rows[PRODUCTS], plan, report.skipped)
    plan_accounts(rows[ACCOUNTS], plan, report.skipped, fixes)
    plan_deals(rows[PIPELINE], plan, report.skipped, fixes)
    report.snapshot_date = plan_account_figures(plan)
    report.corrections = fixes.as_list()
    report.merged_rows = len(fixes.rows)
    report.leads_without_customer = sum(deal.account_key is None for deal in plan.deals)
    stages = load_stages()
    snapshot = at_noon(report.snapshot_date or timezone.localdate())

    # Phase 3: write.
    teams = write_teams(plan, report)
    user_ids = write_people(plan, teams, report)
    product_ids = write_products(plan, report)
    customer_ids = write_customers(plan, user_ids, report) if plan.accounts else {}
    write_deals(
        plan,
        stages=stages,
        user_ids=user_ids,
        product_ids=product_ids,
        customer_ids=customer_ids,
        snapshot=snapshot,
        report=report,
    )
    _add_notes(report)
    if dry_run:
        transaction.set_rollback(True)
    return report


def _add_notes(report: MavenImportReport) -> None:
    notes = [
        _("%(count)d open deals have no account: imported as leads without a customer (none skipped).")
        % {"count": report.leads_without_customer},
        _("Amounts of Lost and open deals are the product's list price (an estimate); Won deals use close_value."),
        _(
            "Deals without an engage_date (Prospecting) are taken as opened on the snapshot date %(date)s, "
            "the latest date in the pipeline."
        )
        % {"date": report.snapshot_date},
        _(
            "Dates are stored at 12:00 %(tz)s. Annual value = won close_value of the 365 days up to the latest "
            "close_date; tier A = top 20%% of accounts by it, B = next 30%%, C = the rest (visits every 14/30/60 "
            "days); owner = the agent with most deals on the account."
        )
        % {"tz": timezone.get_default_timezone_name()},
        _(
            "Not imported (no field for them): account revenue and year_established. The data has no city, "
            "address or coordinates, and no rep home base."
        ),
        _("Imported users get an unusable password: an admin sets passwords."),
    ]
    report.notes[:0] = notes
