"""Template filters of the pipeline pages: probabilities are stored as fractions and shown in percent."""

from decimal import Decimal

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def percent(fraction) -> str:
    """0.375 -> "37.5%", 0.3 -> "30%"; "—" when there is no value."""
    if fraction is None or fraction == "":
        return "—"
    return f"{floatformat(Decimal(str(fraction)) * 100, -1)}%"
