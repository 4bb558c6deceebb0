from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy as _

from crm.maven_import import MavenImportError, maven_data_import


class Command(BaseCommand):
    help = _(
        "Import the Maven 'CRM Sales Opportunities' export (accounts.csv, products.csv, sales_teams.csv, "
        "sales_pipeline.csv in DIR): teams, managers, reps, products, customers, opportunities with their "
        "stage history, and orders. Safe to run again: a second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, metavar="DIR", help=_("Folder holding the four CSV files."))
        parser.add_argument("--dry-run", action="store_true", help=_("Validate and report, then roll everything back."))

    def handle(self, *args, directory: Path, dry_run: bool, **options):
        try:
            report = maven_data_import(directory=directory, dry_run=dry_run)
        except MavenImportError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.summary_lines():
            self.stdout.write(line)
