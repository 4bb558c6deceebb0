"""What the dashboard page shows, built from the KPI report: cards, per-rep rows, chart data, links.

No figure is computed here: values come from `analytics.kpis` / `analytics.visit_effect`
as they are; this module only arranges and formats them.
"""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

from analytics import definitions
from analytics.dashboard_scope import DashboardScope
from analytics.definitions import Definition, NumberFormat, figure_text
from analytics.periods import Period, PeriodKind

# GET parameters a link on the page keeps (the rest is dropped).
KEPT_PARAMETERS = ("team", "rep", "period", "on", "date_from", "date_to", "sort", "dir")


@dataclass(frozen=True)
class DashboardRequest:
    form: object
    scope: DashboardScope
    period: Period
    zone: ZoneInfo

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        return self.period.bounds(self.zone)

    def _parameters(self) -> dict[str, str]:
        data = self.form.data
        return {k: data[k] for k in KEPT_PARAMETERS if data.get(k)}

    def query(self, **changes) -> str:
        """This page's query string with some parameters changed (None drops one)."""
        parameters = self._parameters()
        for key, value in changes.items():
            if value is None:
                parameters.pop(key, None)
            else:
                parameters[key] = str(value)
        return urlencode(parameters)

    def _period_query(self, period: Period) -> str:
        if period.kind == PeriodKind.CUSTOM:
            return self.query(period=period.kind, date_from=period.first, date_to=period.last, on=None)
        return self.query(period=period.kind, on=period.first, date_from=None, date_to=None)

    @property
    def previous_query(self) -> str:
        return self._period_query(self.period.previous)

    @property
    def next_query(self) -> str:
        return self._period_query(self.period.next)

    @property
    def sort(self) -> tuple[str, str]:
        data = self.form.data
        return data.get("sort", ""), "asc" if data.get("dir") == "asc" else "desc"


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


def rep_options(page: DashboardRequest) -> list[Option]:
    """The rep filter's choices: one per rep of the scope, the chosen one selected."""
    chosen = page.scope.rep.pk if page.scope.rep is not None else None
    return [Option(str(rep.pk), rep.get_full_name() or rep.username, rep.pk == chosen) for rep in page.scope.reps]


@dataclass(frozen=True)
class Header:
    key: str
    label: str
    definition: str
    query: str  # the link that sorts by this column (or flips the order when it is the sorted one)
    sorted: bool
    direction: str


def header_list(page: DashboardRequest) -> list[Header]:
    """The per-rep table's column headers; figures sort high to low first, names A to Z."""
    current, direction = page.sort
    columns = [("name", _("Rep"), "")]
    columns += [(d.key, str(d.label), str(d.text)) for d in definitions.ALL]
    columns.append((definitions.VISIT_EFFECT.key, definitions.VISIT_EFFECT.label, definitions.VISIT_EFFECT.text))
    headers = []
    for key, label, text in columns:
        first = "asc" if key == "name" else "desc"
        new_direction = ("asc" if direction == "desc" else "desc") if key == current else first
        headers.append(
            Header(key, str(label), str(text), page.query(sort=key, dir=new_direction), key == current, direction)
        )
    return headers


@dataclass(frozen=True)
class Card:
    definition: Definition
    value: float | None
    value_text: str
    previous_text: str
    trend: str  # "up", "down", "same" or "" when either value is undefined


def _trend(value: float | None, previous: float | None) -> str:
    if value is None or previous is None:
        return ""
    if value > previous:
        return "up"
    return "down" if value < previous else "same"


def card_list(report) -> list[Card]:
    """The KPI cards: this period's value and the previous period's, each with its definition."""
    now, before = report.overall.as_dict(), report.previous.as_dict()
    return [
        Card(
            definition=d,
            value=now[d.key],
            value_text=figure_text(d, now[d.key]),
            previous_text=figure_text(d, before[d.key]),
            trend=_trend(now[d.key], before[d.key]),
        )
        for d in definitions.CARDS
    ]


@dataclass(frozen=True)
class RepRow:
    rep_id: int
    name: str
    username: str
    values: list[float | None]  # in the order of definitions.ALL
    texts: list[str]
    effect_share: float | None
    effect_n: int
    effect_text: str
    query: str  # the dashboard filtered to this rep


def rep_rows(*, report, effect, page: DashboardRequest) -> list[RepRow]:
    effects = {e.rep_id: e for e in effect.per_rep}
    number = NumberFormat.active()  # once for the table's ~1,500 figures
    rows = []
    for rep in report.reps:
        figures = rep.figures.as_dict()
        values = [figures[d.key] for d in definitions.ALL]
        rep_effect = effects.get(rep.rep_id)
        share = rep_effect.share if rep_effect else None
        rows.append(
            RepRow(
                rep_id=rep.rep_id,
                name=rep.name,
                username=rep.username,
                values=values,
                texts=[figure_text(d, v, number) for d, v in zip(definitions.ALL, values, strict=True)],
                effect_share=share,
                effect_n=rep_effect.n if rep_effect else 0,
                effect_text=figure_text(definitions.VISIT_EFFECT, share, number),
                query=page.query(rep=rep.rep_id),
            )
        )
    return rows


def sort_rep_rows(rows: list[RepRow], key: str, direction: str) -> list[RepRow]:
    """Rows by a figure (undefined ones last, whichever the direction), by name otherwise."""
    descending = direction == "desc" and key != ""
    if key in definitions.BY_KEY:
        index = list(definitions.BY_KEY).index(key)

        def value(row: RepRow):
            return row.values[index]
    elif key == "effect":

        def value(row: RepRow):
            return row.effect_share
    else:
        return sorted(rows, key=lambda r: r.name.casefold(), reverse=descending)
    defined = [r for r in rows if value(r) is not None]
    undefined = [r for r in rows if value(r) is None]
    defined.sort(key=lambda r: (value(r), r.name.casefold()), reverse=descending)
    return defined + sorted(undefined, key=lambda r: r.name.casefold())


def _percent_or_none(value: float | None) -> float | None:
    return None if value is None else 100 * value


def chart_data(*, report, curve) -> dict:
    """Everything the charts draw, for `json_script`: numbers (null where undefined) and translated labels."""
    funnel = report.funnel
    monthly = report.monthly
    forecast_gap = [None] * len(monthly.months)
    data = {
        "funnel": {
            "labels": [_(stage.name) for stage in funnel],  # default stage names are in the catalogue
            "open": [stage.open_now for stage in funnel],
            "entered": [stage.entered for stage in funnel],
            "conversion": [_percent_or_none(stage.conversion) for stage in funnel],
            "text": {"open": _("Open now"), "entered": _("Entered in the period"), "conversion": _("Conversion %")},
        },
        "monthly": {
            "labels": [*monthly.months, *monthly.forecast_months] if monthly.forecast else list(monthly.months),
            "won": list(monthly.won_amount),
            "forecast": [*forecast_gap, *monthly.forecast] if monthly.forecast else [],
            "text": {"won": _("Won amount"), "forecast": _("Forecast")},
        },
        "satisfaction": {
            "labels": list(monthly.months),
            "cs_need": list(monthly.cs_need),
            "cs_expectation": list(monthly.cs_expectation),
            "text": {
                "cs_need": str(definitions.CS_NEED.label),
                "cs_expectation": str(definitions.CS_EXPECTATION.label),
            },
        },
        "plan": {
            "labels": [rep.name for rep in report.reps],
            "cs_plan": [rep.figures.cs_plan for rep in report.reps],
            "text": {"cs_plan": str(definitions.CS_PLAN.label)},
        },
        "need": None,
    }
    if curve is not None:
        data["need"] = {
            "curve": {"x": [round(x, 3) for x in curve.x], "p": curve.p},
            "calibration": {
                "labels": [str(row["decile"]) for row in curve.calibration],
                "predicted": [row["predicted"] for row in curve.calibration],
                "observed": [row["observed"] for row in curve.calibration],
            },
            "text": {
                "curve": _("P(x)"),
                "x": _("completed visits while open (x)"),
                "observed": _("observed win rate"),
                "predicted": _("mean predicted P"),
                "decile": _("decile of predicted P"),
            },
        }
    return data


@dataclass(frozen=True)
class FunnelRow:
    name: str
    open_text: str
    entered_text: str
    conversion_text: str


def funnel_rows(report) -> list[FunnelRow]:
    return [
        FunnelRow(
            name=_(stage.name),
            open_text="" if stage.open_now is None else figure_text(definitions.WON, stage.open_now),
            entered_text=figure_text(definitions.WON, stage.entered),
            conversion_text="" if stage.is_terminal else figure_text(definitions.WIN_RATE, stage.conversion),
        )
        for stage in report.funnel
    ]


def forecast_text(report) -> str:
    monthly = report.monthly
    if not monthly.forecast:
        return monthly.forecast_reason or _("No forecast.")
    months = ", ".join(
        f"{month}: {figure_text(definitions.WON_AMOUNT, value)}"
        for month, value in zip(monthly.forecast_months, monthly.forecast, strict=True)
    )
    mse = "—" if monthly.backtest_mse is None else figure_text(definitions.WON_AMOUNT, monthly.backtest_mse)
    return _(
        "Linear trend over the last %(n)s months. Forecast %(months)s. Back-test mean squared error "
        "(fitted without the last 3 months, scored on them): %(mse)s."
    ) % {"n": monthly.months_of_data, "months": months, "mse": mse}


def effect_texts(effect) -> dict[str, str]:
    lift = "—" if effect.lift is None else f"{100 * effect.lift:+.1f}"
    return {
        "share": figure_text(definitions.VISIT_EFFECT, effect.share),
        "baseline": figure_text(definitions.VISIT_EFFECT, effect.baseline_share),
        "lift": lift,
    }
