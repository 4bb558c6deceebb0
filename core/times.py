"""Moments passed between processes (Celery task arguments) as ISO 8601 strings, and the years people may enter."""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Days and moments typed by people must fall in these years: calendar arithmetic on
# year 1 or 9999 (the day before, the next month) overflows, and a typo such as 20256
# is a mistake to point out, not a moment to store.
MOMENT_MIN_YEAR, MOMENT_MAX_YEAR = 1970, 2200  # [min, max)


def validate_year_in_range(value: date | datetime) -> None:
    """A form/model validator: the day or moment lies in the years MOMENT_MIN_YEAR..MOMENT_MAX_YEAR - 1."""
    if value is not None and not MOMENT_MIN_YEAR <= value.year < MOMENT_MAX_YEAR:
        raise ValidationError(
            _("Give a day between the years %(min)d and %(max)d."),
            code="range",
            params={"min": MOMENT_MIN_YEAR, "max": MOMENT_MAX_YEAR - 1},
        )


def parse_aware_iso(value: str) -> datetime:
    """An ISO 8601 moment that must carry its UTC offset: tasks never guess a time zone."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"as_of must carry a UTC offset: {value!r}")
    return moment
