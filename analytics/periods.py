"""Reporting periods of the dashboard: a calendar month, quarter or year, or custom dates.

A period covers whole local days, [first day 00:00, day after the last 00:00) in the
project's time zone; `previous` is the period of the same kind just before (for a
custom period: as many days just before), which the dashboard compares with.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import models
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

# A custom period longer than this is refused: the dashboard's arrays grow with it.
MAX_CUSTOM_DAYS = 3 * 366


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")
    YEAR = "year", _("Year")
    CUSTOM = "custom", _("Custom")


@dataclass(frozen=True)
class Period:
    kind: str
    first: date  # first day
    last: date  # last day, included

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Aware [start, end) covering the period's local days."""
        start = datetime.combine(self.first, time.min, tzinfo=tz)
        end = datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=tz)
        return start, end

    @property
    def previous(self) -> "Period":
        if self.kind == PeriodKind.CUSTOM:
            return Period(self.kind, self.first - timedelta(days=self.days), self.first - timedelta(days=1))
        return period_containing(self.kind, self.first - timedelta(days=1))

    @property
    def next(self) -> "Period":
        if self.kind == PeriodKind.CUSTOM:
            return Period(self.kind, self.last + timedelta(days=1), self.last + timedelta(days=self.days))
        return period_containing(self.kind, self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return date_format(self.first, "YEAR_MONTH_FORMAT")
        if self.kind == PeriodKind.QUARTER:
            return _("Q%(quarter)s %(year)s") % {"quarter": (self.first.month - 1) // 3 + 1, "year": self.first.year}
        if self.kind == PeriodKind.YEAR:
            return str(self.first.year)
        return f"{date_format(self.first, 'SHORT_DATE_FORMAT')} – {date_format(self.last, 'SHORT_DATE_FORMAT')}"


def add_months(first_of_month: date | datetime, count: int) -> date | datetime:
    """The first of the month `count` months later (earlier when negative), a date or an aware datetime.

    Built afresh with replace (not + timedelta), so a local midnight stays a local
    midnight across a clock change.
    """
    index = first_of_month.year * 12 + first_of_month.month - 1 + count
    return first_of_month.replace(year=index // 12, month=index % 12 + 1)


def period_containing(kind: str, day: date) -> Period:
    """The calendar month, quarter or year that contains `day`."""
    if kind == PeriodKind.MONTH:
        first = day.replace(day=1)
        months = 1
    elif kind == PeriodKind.QUARTER:
        first = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        months = 3
    elif kind == PeriodKind.YEAR:
        first = date(day.year, 1, 1)
        months = 12
    else:
        raise ValueError(f"not a calendar period: {kind!r}")
    after = add_months(first, months)
    return Period(kind, first, after - timedelta(days=1))


def custom_period(first: date, last: date) -> Period:
    if last < first:
        raise ValueError("the period ends before it starts")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise ValueError(f"a custom period is at most {MAX_CUSTOM_DAYS} days")
    return Period(PeriodKind.CUSTOM, first, last)
