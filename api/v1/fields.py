"""Field and filter types the v1 resources share."""

from datetime import datetime

import django_filters
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.times import MOMENT_MAX_YEAR, MOMENT_MIN_YEAR

ID_MAX = 2**63 - 1  # a 64-bit primary key


class IdFilter(django_filters.NumberFilter):
    """`?rep=12`: a whole, positive id (django-filter's NumberFilter would take 1.5 and 1e300)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class MomentFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 moment bound in a query string; without an offset it is in the company's TIME_ZONE."""


class MomentField(serializers.DateTimeField):
    """An ISO 8601 moment in a request body, between 1970 and 2200 (a typo's year 20256 is an error, not a crash).

    Without a UTC offset it is read in the company's TIME_ZONE, like the pages' date pickers.
    """

    default_error_messages = {
        "range": _("Enter a moment between the years {min} and {max}."),
    }

    def to_internal_value(self, value) -> datetime:
        moment = super().to_internal_value(value)
        if not MOMENT_MIN_YEAR <= timezone.localtime(moment).year < MOMENT_MAX_YEAR:
            self.fail("range", min=MOMENT_MIN_YEAR, max=MOMENT_MAX_YEAR - 1)
        return moment


@extend_schema_field(OpenApiTypes.INT)
class ScopedPrimaryKeyField(serializers.PrimaryKeyRelatedField):
    """An id chosen among the objects the requesting user may pick: `choices(user)` returns their queryset.

    An id outside that scope gets the same answer as an id that does not exist.
    """

    def __init__(self, *, choices, **kwargs):
        self.choices_for_user = choices
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.choices_for_user(self.context["request"].user)
