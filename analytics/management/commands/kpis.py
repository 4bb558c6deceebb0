"""`manage.py kpis --from DATE --to DATE [--team ID] [--json]`: the KPI report of a period, overall and per rep."""

import json
from datetime import date, datetime, time, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from analytics.kpis import KPI_KEYS, KpiFigures, KpiReport, kpi_report, rep_ids_for_team
from crm.models import Team

UNDEFINED = "—"


class Command(BaseCommand):
    # argparse needs real strings: gettext at parse time, not gettext_lazy.
    help = "Print the KPIs of a period (spec sections 2 and 3), overall and per rep, as a table or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="date_from", required=True, metavar="DATE", help=_("First day (ISO date)."))
        parser.add_argument(
            "--to", dest="date_to", required=True, metavar="DATE", help=_("Last day, included (ISO date).")
        )
        parser.add_argument("--team", dest="team", type=int, metavar="ID", help=_("Only this team's reps."))
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help=_("Print one JSON object instead of a table.")
        )

    def handle(self, *args, date_from, date_to, team=None, as_json=False, **options):
        first, last = _parse_date("--from", date_from), _parse_date("--to", date_to)
        if last < first:
            raise CommandError(
                _("--to (%(to)s) is before --from (%(from)s).") % {"to": last.isoformat(), "from": first.isoformat()}
            )
        tz = timezone.get_default_timezone()
        start = datetime.combine(first, time.min, tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
        if team is None:
            rep_ids = None
        else:
            try:
                rep_ids = rep_ids_for_team(team_id=team)
            except Team.DoesNotExist as exc:
                raise CommandError(_("--team: no team with id %(id)s.") % {"id": team}) from exc
        report = kpi_report(rep_ids=rep_ids, period_start=start, period_end=end)
        self.stdout.write(_as_json(report) if as_json else _as_table(report))


def _parse_date(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(
            _("%(option)s is not an ISO date (YYYY-MM-DD): %(value)s") % {"option": option, "value": value}
        ) from exc


def _as_json(report: KpiReport) -> str:
    payload = {
        "from": report.period_start.isoformat(),
        "to": report.period_end.isoformat(),
        "overall": report.overall.as_dict(),
        "reps": [{"rep": rep.name, "username": rep.username, **rep.figures.as_dict()} for rep in report.reps],
    }
    return json.dumps(payload, ensure_ascii=False)


def _number(value: float | None, decimals: int, suffix: str = "") -> str:
    if value is None:
        return UNDEFINED
    return number_format(round(value, decimals), decimal_pos=decimals, force_grouping=True) + suffix


def _cells(figures: KpiFigures) -> list[str]:
    """The row of one set of figures, in `KPI_KEYS` order; "—" where undefined."""
    return [
        str(figures.won),
        str(figures.lost),
        _number(None if figures.win_rate is None else 100 * figures.win_rate, 1, "%"),
        _number(figures.won_amount, 0),
        _number(figures.weighted_pipeline, 0),
        _number(figures.E, 3),
        _number(figures.R, 3),
        _number(figures.O, 3),
        _number(figures.cs_need, 1, "%"),
        _number(figures.cs_expectation, 1, "%"),
        _number(figures.cs_plan, 1, "%"),
        _number(figures.cs_policy, 1, "%"),
    ]


def _headers() -> list[str]:
    labels = {
        "won": _("Won"),
        "lost": _("Lost"),
        "win_rate": _("Win rate"),
        "won_amount": _("Won amount"),
        "weighted_pipeline": _("Weighted pipeline"),
        "E": _("E /day"),
        "R": _("R /day"),
        "O": _("O /day"),
        "cs_need": _("CS need"),
        "cs_expectation": _("CS expectation"),
        "cs_plan": _("CS plan"),
        "cs_policy": _("CS policy"),
    }
    return [_("Rep")] + [labels[key] for key in KPI_KEYS]


def _as_table(report: KpiReport) -> str:
    rows = [
        [_("Overall"), *_cells(report.overall)],
        [_("Overall, previous period"), *_cells(report.previous)],
        *([rep.name, *_cells(rep.figures)] for rep in report.reps),
    ]
    headers = _headers()
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first, *rest = cells
        return "  ".join(
            [first.ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True))]
        )

    last_day = (report.period_end - timedelta(days=1)).date()
    title = _("KPIs from %(from)s to %(to)s (%(reps)d reps)") % {
        "from": report.period_start.date().isoformat(),
        "to": last_day.isoformat(),
        "reps": len(report.reps),
    }
    legend = _(
        "Win rate: won / (won + lost) closed in the period. E, R, O: opportunities or orders per day. "
        "CS ratios in percent over the visits planned in the period. %(undefined)s: undefined (nothing to divide by)."
    ) % {"undefined": UNDEFINED}
    body = [line(headers), line(["-" * w for w in widths]), *(line(row) for row in rows)]
    body.insert(4, line(["-" * w for w in widths]))  # rule between overall and the reps
    return "\n".join([title, "", *body, "", legend])
