"""`manage.py seed_demo`: load the demo data set and print the demo logins."""

import time
from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.visit_days import visit_days_refresh
from crm.demo import DemoDataExists, demo_logins, demo_seed
from crm.models import Customer

DEMO_URL = "http://127.0.0.1:8000/"


class Command(BaseCommand):
    help = "Create demo teams, users, customers and a year of history (deterministic for a seed)."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=1000, help=_("Number of customers (default 1000)."))
        parser.add_argument(
            "--reps",
            type=int,
            default=None,
            help=_("Number of reps sharing the customers (default: one per 150 customers, at least 4)."),
        )
        parser.add_argument("--seed", type=int, default=42, help=_("Random seed (default 42)."))
        parser.add_argument(
            "--if-empty", action="store_true", help=_("Do nothing (but print the logins) when customers exist.")
        )
        parser.add_argument(
            "--opportunity-scale",
            type=float,
            default=1.0,
            help=_("Multiply the mean number of opportunities per customer (default 1; at most 5 per customer)."),
        )
        parser.add_argument(
            "--as-of",
            type=date.fromisoformat,
            default=None,
            help=_("Day the year of history leads up to, YYYY-MM-DD (default: today in TIME_ZONE)."),
        )

    def handle(self, *args, customers, reps, seed, if_empty, as_of, opportunity_scale, **options):
        if if_empty and Customer.objects.exists():
            self.stdout.write(_("Customers already exist: nothing seeded."))
        else:
            if customers < 1:
                raise CommandError(_("The number of customers must be at least 1."))
            if reps is not None and not 1 <= reps <= customers:
                raise CommandError(_("The number of reps must be between 1 and the number of customers."))
            as_of = as_of or timezone.localdate()
            started = time.perf_counter()
            try:
                counts = demo_seed(
                    customers=customers,
                    reps=reps,
                    seed=seed,
                    as_of=as_of,
                    opportunity_scale=opportunity_scale,
                    progress=self.stdout.write,
                )
            except (DemoDataExists, ValueError) as error:
                raise CommandError(str(error)) from error
            visit_days_refresh(full=True)  # the KPI report's day sums of the new visits
            elapsed = time.perf_counter() - started
            self.stdout.write(
                self.style.SUCCESS(
                    _("Demo data as of %(as_of)s created in %(seconds).1f s:")
                    % {"as_of": as_of.isoformat(), "seconds": elapsed}
                )
            )
            for label, count in counts.items():
                self.stdout.write(f"  {label:<20} {count:>12,}")
        self._print_logins()

    def _print_logins(self) -> None:
        logins = demo_logins()
        lines = [_("Fieldwise demo: %(url)s") % {"url": DEMO_URL}]
        if logins["admin"]:
            lines.append(_("  admin:    %(user)s") % {"user": logins["admin"]})
        if logins["manager"]:
            lines.append(_("  manager:  %(user)s") % {"user": logins["manager"]})
        if logins["reps"]:
            lines.append(_("  reps:     %(users)s") % {"users": ", ".join(logins["reps"])})
            lines.append(_("  all reps: rep1..%(last)s") % {"last": logins["last_rep"]})
        lines.append(_("  password: %(password)s") % {"password": settings.FIELDWISE_DEMO_PASSWORD})
        self.stdout.write("\n".join(lines))
