"""`manage.py recalc_scores`: recompute every active customer's P and T now (or as of a date)."""

import time
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.models import ScoringPolicy
from analytics.services import ScoringRunInProgress, scores_recalculate


class Command(BaseCommand):
    # argparse needs real strings: gettext at parse time, not gettext_lazy.
    help = "Recalculate the visit priority P and scheduled time T of every active customer."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            dest="as_of",
            metavar="ISO",
            help=_(
                "ISO 8601 date-time the scores are computed at (default: now). "
                "A value without a UTC offset is read in the TIME_ZONE setting."
            ),
        )
        parser.add_argument(
            "--policy",
            dest="policy_version",
            metavar="VERSION",
            type=int,
            help=_("Scoring policy version to use (default: the active policy)."),
        )

    def handle(self, *args, as_of=None, policy_version=None, **options):
        when = self._parse_as_of(as_of) if as_of else timezone.now()
        phases: dict[str, float] = {}
        started = time.perf_counter()
        try:
            run = scores_recalculate(
                as_of=when, policy_version=policy_version, on_phase=lambda name, sec: phases.__setitem__(name, sec)
            )
        except ScoringRunInProgress as exc:
            raise CommandError(str(exc)) from exc
        except ScoringPolicy.DoesNotExist as exc:
            raise CommandError(
                _("No scoring policy version %(version)s.") % {"version": policy_version}
                if policy_version is not None
                else _("No active scoring policy.")
            ) from exc
        total = time.perf_counter() - started
        self.stdout.write(
            _("Scoring run #%(id)s: %(count)s customers scored as of %(as_of)s with policy v%(version)s.")
            % {"id": run.pk, "count": run.done, "as_of": run.as_of.isoformat(), "version": run.policy.version}
        )
        self.stdout.write(
            _("Time: load %(load).2f s, compute %(compute).2f s, save %(save).2f s, total %(total).2f s.")
            % {
                "load": phases.get("load", 0.0),
                "compute": phases.get("compute", 0.0),
                "save": phases.get("save", 0.0),
                "total": total,
            }
        )

    def _parse_as_of(self, value: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(_("--as-of is not an ISO 8601 date-time: %(value)s") % {"value": value}) from exc
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
