"""Cell <-> value conversions for imports and exports, strict and explained.

django-import-export's stock widgets let some bad input through silently (a boolean
column reads "yes" as False) or fail with messages meant for programmers
("[<class 'decimal.ConversionSyntax'>]"). These read what a spreadsheet holds (text
from a CSV; numbers, dates and booleans from an XLSX) and raise ValueError with a
sentence a person can act on; the resource turns it into "row N, field F: message".

Empty cells are None: the field then decides (clear the value, or keep it).
"""

import re
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from import_export import widgets

# A text cell starting with one of these is a formula to a spreadsheet (CSV injection):
# exports prefix it with an apostrophe, imports drop that apostrophe again.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Spaces a spreadsheet may put inside a number ("12 500"); never a separator we guess about.
_NUMBER_SPACES = re.compile(r"[\s\u00a0\u202f']")


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _shown(value) -> str:
    """The cell as quoted in a message, cut short."""
    text = str(value).strip()
    return text if len(text) <= 40 else f"{text[:37]}..."


def escape_formula(text: str) -> str:
    return f"'{text}" if text.startswith(FORMULA_START) else text


def unescape_formula(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


class TextWidget(widgets.CharWidget):
    """Text, trimmed. Numbers from an XLSX become their digits (a code 1042 stays "1042").

    `blank_as_none`: an empty cell is None (for nullable columns) instead of "".
    """

    def __init__(self, *, blank_as_none: bool = False):
        super().__init__(coerce_to_string=True, allow_blank=not blank_as_none)
        self.blank_as_none = blank_as_none

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None if self.blank_as_none else ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return unescape_formula(str(value).strip())

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        text = str(value)
        # XLSX cells are written as typed strings (never formulas); CSV cells need the escape.
        return text if kwargs.get("force_native_type") else escape_formula(text)


def parse_decimal(value) -> Decimal:
    """A number from a cell: 1234.5, "1234.50", "12 500"; never a comma (1,5 or 1,500 is ambiguous)."""
    if isinstance(value, bool):
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value})
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        text = _NUMBER_SPACES.sub("", str(value))
        if "," in text:
            raise ValueError(
                _("“%(value)s” is not a number: write it with a dot for decimals and no thousands separator (1234.50).")
                % {"value": _shown(value)}
            )
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(_("“%(value)s” is not a number.") % {"value": _shown(value)}) from None
    if not number.is_finite():
        raise ValueError(_("“%(value)s” is not a number.") % {"value": _shown(value)})
    return number


class _BoundedNumber:
    """Bounds shared by the number widgets, with one message per way of being out of range."""

    def __init__(self, *, min_value=None, max_value=None):
        self.min_value = min_value
        self.max_value = max_value

    def check_bounds(self, number, shown) -> None:
        low, high = self.min_value, self.max_value
        if (low is not None and number < low) or (high is not None and number > high):
            if low == 0 and number < 0:
                message = _("%(value)s is negative: it must be 0 or more.")
            elif high is None:
                message = _("%(value)s is too small: it must be at least %(min)s.")
            elif low is None:
                message = _("%(value)s is too large: it must be at most %(max)s.")
            else:
                message = _("%(value)s is out of range: it must be between %(min)s and %(max)s.")
            raise ValueError(message % {"value": shown, "min": low, "max": high})


class DecimalWidget(_BoundedNumber, widgets.DecimalWidget):
    """A decimal rounded half up to `places` decimals (as the model keeps it), within bounds."""

    def __init__(self, *, places: int, min_value=None, max_value=None):
        _BoundedNumber.__init__(self, min_value=min_value, max_value=max_value)
        widgets.DecimalWidget.__init__(self, coerce_to_string=True)
        self.step = Decimal(1).scaleb(-places)

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        number = parse_decimal(value)
        self.check_bounds(number, _shown(value))
        return number.quantize(self.step, rounding=ROUND_HALF_UP)

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return value if kwargs.get("force_native_type") else str(value)


class FloatWidget(_BoundedNumber, widgets.FloatWidget):
    def __init__(self, *, min_value=None, max_value=None):
        _BoundedNumber.__init__(self, min_value=min_value, max_value=max_value)
        widgets.FloatWidget.__init__(self, coerce_to_string=True)

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        number = parse_decimal(value)
        self.check_bounds(number, _shown(value))
        return float(number)

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return value if kwargs.get("force_native_type") else repr(value)


class IntegerWidget(_BoundedNumber, widgets.IntegerWidget):
    def __init__(self, *, min_value=None, max_value=None):
        _BoundedNumber.__init__(self, min_value=min_value, max_value=max_value)
        widgets.IntegerWidget.__init__(self, coerce_to_string=True)

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        number = parse_decimal(value)
        if number != number.to_integral_value():
            raise ValueError(_("%(value)s is not a whole number.") % {"value": _shown(value)})
        self.check_bounds(number, _shown(value))
        return int(number)

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        return value if kwargs.get("force_native_type") else str(value)


class BooleanWidget(widgets.BooleanWidget):
    """Yes or no: 1/0, true/false, yes/no, y/n, x (a ticked box). Anything else is an error, not False."""

    TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x"})
    FALSE_WORDS = frozenset({"0", "false", "no", "n"})

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        word = str(value).strip().lower()
        if word in self.TRUE_WORDS:
            return True
        if word in self.FALSE_WORDS:
            return False
        raise ValueError(_("“%(value)s” is not yes or no: write 1 or 0.") % {"value": _shown(value)})

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        if kwargs.get("force_native_type"):
            return bool(value)
        return "1" if value else "0"


class ChoiceWidget(widgets.Widget):
    """One of a model field's choices, by value or by label, in any case ("a", "A (key account)")."""

    def __init__(self, choices):
        super().__init__(coerce_to_string=True)
        self.choices = list(choices)

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        word = str(value).strip().lower()
        for key, label in self.choices:
            if word in (str(key).lower(), str(label).lower()):
                return key
        allowed = ", ".join(str(key) for key, _label in self.choices)
        raise ValueError(_("“%(value)s” is not one of: %(allowed)s.") % {"value": _shown(value), "allowed": allowed})

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class DateWidget(widgets.DateWidget):
    """A date: an XLSX date cell, or text in ISO form 2025-03-31 (never 03/31 or 31/03, which are ambiguous)."""

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        if isinstance(value, datetime):
            if value.time() != time(0):
                raise ValueError(_("%(value)s has a time of day: give a date only.") % {"value": _shown(value)})
            return value.date()
        if isinstance(value, date):
            return value
        try:
            day = parse_date(str(value).strip())
        except ValueError:
            day = None
        if day is None:
            raise ValueError(
                _("“%(value)s” is not a date: write it as YYYY-MM-DD (2025-03-31).") % {"value": _shown(value)}
            )
        return day

    def render(self, value, obj=None, **kwargs):
        if not value:
            return ""
        return value if kwargs.get("force_native_type") else value.isoformat()


class DateTimeWidget(widgets.DateTimeWidget):
    """A moment: an XLSX date/time cell or ISO text (2025-03-31 14:30, optionally with seconds and an
    offset); without an offset it is in the site's time zone. A date alone means its midnight."""

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime.combine(value, time(0))  # noqa: DTZ001 - made aware below
        else:
            text = str(value).strip()
            try:
                moment = parse_datetime(text)
                if moment is None and (day := parse_date(text)) is not None:
                    moment = datetime.combine(day, time(0))  # noqa: DTZ001 - made aware below
            except ValueError:
                moment = None
            if moment is None:
                raise ValueError(
                    _("“%(value)s” is not a date and time: write it as YYYY-MM-DD HH:MM (2025-03-31 14:30).")
                    % {"value": _shown(value)}
                )
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment

    def render(self, value, obj=None, **kwargs):
        if not value:
            return ""
        local = timezone.localtime(value).replace(microsecond=0)
        if kwargs.get("force_native_type"):
            return local.replace(tzinfo=None)  # XLSX has no time zones: the site's local time
        return local.strftime("%Y-%m-%d %H:%M:%S")


class LookupWidget(widgets.ForeignKeyWidget):
    """A related record by a natural key (a customer's code, a rep's username, a stage's code or name).

    The resource resolves the key (`resolve(key)` returns the object or raises ValueError): it
    knows the importing user's scope and caches what it found. Export writes `attribute` of the object.
    """

    def __init__(self, model, attribute: str, resolve: str):
        super().__init__(model, field=attribute)
        self.resolve_name = resolve
        self.resolver = None

    def bind(self, resource) -> None:
        self.resolver = getattr(resource, self.resolve_name)

    def clean(self, value, row=None, **kwargs):
        if is_blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return self.resolver(unescape_formula(str(value).strip()))

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        text = str(getattr(value, self.field))
        return text if kwargs.get("force_native_type") else escape_formula(text)
