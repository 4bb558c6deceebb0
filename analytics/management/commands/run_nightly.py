"""`manage.py run_nightly`: the nightly job now (missed sweep, scores, every rep's plan).

Without REDIS_URL everything runs in this process (how `make run` gives the demo a
plan for today); with a broker the planning chunks go to the Celery workers.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from analytics.models import PlanRun
from analytics.tasks import nightly


class Command(BaseCommand):
    help = "Run the nightly job now: mark missed visits, score every customer, plan every rep."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", metavar="ISO", help="ISO 8601 moment with a UTC offset")

    def handle(self, *args, as_of=None, **options):
        run_id = nightly.apply(kwargs={"as_of": as_of}).get()
        if run_id is None:
            raise CommandError(_("A scoring or planning run is already in progress; nothing was started."))
        run = PlanRun.objects.get(pk=run_id)
        self.stdout.write(
            _("Planning run #%(id)s: %(status)s, %(done)s/%(total)s reps, %(visits)s visits planned.")
            % {
                "id": run.pk,
                "status": run.get_status_display(),
                "done": run.done,
                "total": run.total,
                "visits": run.visits.count(),
            }
        )
