"""What each figure means, in words, as pages show it on hover (spec sections 2 and 3)."""

from dataclasses import dataclass

from django.utils import numberformat
from django.utils.formats import get_format
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Definition:
    key: str  # the figure's key in KpiFigures / the kpis JSON
    label: Promise
    text: Promise
    kind: str  # "percent" (0..100), "fraction" (0..1, shown as a percent), "per_day", "amount", "count"


CS_NEED = Definition(
    "cs_need", _("CS_need"), _("100 × needs satisfied / needs raised, over the completed visits."), "percent"
)
CS_EXPECTATION = Definition(
    "cs_expectation",
    _("CS_expectation"),
    _("100 × actual satisfaction / expected satisfaction, over the completed visits that have both scores."),
    "percent",
)
CS_PLAN = Definition(
    "cs_plan",
    _("CS_plan"),
    _(
        "100 × completed / planned: the visits planned to start by now, leaving out those cancelled "
        "before the day they were planned for."
    ),
    "percent",
)
CS_POLICY = Definition(
    "cs_policy",
    _("CS_policy"),
    _(
        "100 × compliant / completed: a completed visit is compliant when the check-in was within "
        "30 minutes of the planned start and the report was filed within 24 hours of the check-out."
    ),
    "percent",
)
WIN_RATE = Definition(
    "win_rate", _("Win rate"), _("Won / (won + lost), among the opportunities closed in the period."), "fraction"
)
WEIGHTED_PIPELINE = Definition(
    "weighted_pipeline",
    _("Weighted pipeline"),
    _(
        "Sum of amount × probability over the open opportunities; the probability is the one set by hand "
        "where there is one, else the stage's default."
    ),
    "amount",
)
E = Definition(
    "E",
    _("E · communication"),
    _("Opportunities that left Communication forward in the period, per day they spent in Communication (C / T)."),
    "per_day",
)
R = Definition(
    "R",
    _("R · follow-up"),
    _("Opportunities won out of Follow-up in the period, per day they spent in Follow-up (S / T)."),
    "per_day",
)
O = Definition(  # noqa: E741 - the spec's name
    "O",
    _("O · orders"),
    _("Orders fulfilled in the period, per day from their creation to their fulfilment (N / T)."),
    "per_day",
)
WON = Definition("won", _("Won"), _("Opportunities won in the period (by close date)."), "count")
LOST = Definition("lost", _("Lost"), _("Opportunities lost in the period (by close date)."), "count")
WON_AMOUNT = Definition("won_amount", _("Won amount"), _("Sum of the amounts won in the period."), "amount")
VISIT_EFFECT = Definition(
    "effect",
    _("Visit effect"),
    _("Share of the completed visits followed within 14 days by a forward stage move or an order on that customer."),
    "fraction",
)

# The dashboard's cards, in order.
CARDS = (WIN_RATE, WEIGHTED_PIPELINE, E, R, O, CS_NEED, CS_EXPECTATION, CS_PLAN, CS_POLICY)
# Every figure of the kpis command and the per-rep table, in order.
ALL = (WON, LOST, WIN_RATE, WON_AMOUNT, WEIGHTED_PIPELINE, E, R, O, CS_NEED, CS_EXPECTATION, CS_PLAN, CS_POLICY)
BY_KEY = {d.key: d for d in ALL}


@dataclass(frozen=True)
class NumberFormat:
    """The active language's number formats, looked up once: `formats.number_format` looks them up for every
    number, which is most of its cost over a table of a thousand figures."""

    decimal_separator: str
    grouping: int | tuple
    thousand_separator: str

    @classmethod
    def active(cls) -> "NumberFormat":
        language = get_language()
        return cls(*(get_format(name, language, use_l10n=True) for name in _NUMBER_FORMATS))

    def __call__(self, value, decimal_pos: int, *, force_grouping: bool = False) -> str:
        """What `formats.number_format(value, decimal_pos, force_grouping=...)` gives in this language."""
        return numberformat.format(
            value,
            self.decimal_separator,
            decimal_pos,
            self.grouping,
            self.thousand_separator,
            force_grouping=force_grouping,
            use_l10n=True,
        )


_NUMBER_FORMATS = ("DECIMAL_SEPARATOR", "NUMBER_GROUPING", "THOUSAND_SEPARATOR")


def figure_text(definition: Definition, value: float | None, number: NumberFormat | None = None) -> str:
    """A figure as a page shows it: localised, "—" where undefined (never 0 or 100).

    `number`: the language's formats, when the caller formats many figures at once.
    """
    if value is None:
        return "—"
    number = number or NumberFormat.active()
    if definition.kind == "percent":
        return f"{number(value, 1)} %"
    if definition.kind == "fraction":
        return f"{number(100 * value, 1)} %"
    if definition.kind == "per_day":
        return _("%(value)s / day") % {"value": number(value, 3)}
    return number(value, 0, force_grouping=True)  # amounts and counts
