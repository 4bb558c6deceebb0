"""`manage.py fit_need_model`: fit the need-probability model P(x) now (or as of a moment) and say how it went."""

from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics.need_fits import need_model_fit_run


class Command(BaseCommand):
    help = "Fit the need-probability model P(x) = 1 / (1 + exp(-(a + b*x))) on the closed opportunities."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of",
            dest="as_of",
            metavar="ISO",
            help=_(
                "ISO 8601 date-time the fit is made at (default: now). "
                "A value without a UTC offset is read in the TIME_ZONE setting."
            ),
        )

    def handle(self, *args, as_of=None, **options):
        when = self._parse_as_of(as_of) if as_of else timezone.now()
        fit = need_model_fit_run(as_of=when)
        if fit.fitted:
            self.stdout.write(
                _(
                    "Need model #%(id)s as of %(as_of)s: a = %(a).6g, b = %(b).6g on %(n)s closed opportunities, "
                    "log-loss %(loss).4f."
                )
                % {
                    "id": fit.pk,
                    "as_of": fit.as_of.isoformat(),
                    "a": fit.a,
                    "b": fit.b,
                    "n": fit.sample_size,
                    "loss": fit.log_loss,
                }
            )
            return
        message = _("Need model #%(id)s as of %(as_of)s: %(reason)s") % {
            "id": fit.pk,
            "as_of": fit.as_of.isoformat(),
            "reason": fit.reason_display(),
        }
        if fit.reason_code == fit.Reason.ERROR:
            raise CommandError(message)  # a failure, not a verdict on the data: exit non-zero
        self.stdout.write(message)

    def _parse_as_of(self, value: str) -> datetime:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise CommandError(_("--as-of is not an ISO 8601 date-time: %(value)s") % {"value": value}) from exc
        return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
