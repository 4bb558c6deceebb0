"""One error body for every failure: `{"errors": [{"field", "code", "message"}]}`.

`field` names the input at fault (a dotted path into nested input such as
`follow_ups.0.due_date`), or is null when the error concerns the request as a whole.
Django's own ValidationError (raised by the services the API shares with the pages)
and PermissionDenied come out in the same shape.
"""

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, serializers
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

NON_FIELD_KEYS = {NON_FIELD_ERRORS, api_settings.NON_FIELD_ERRORS_KEY}


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text=_("The input at fault, null for the whole request."))
    code = serializers.CharField(help_text=_("A stable, machine-readable reason, e.g. `required`, `not_found`."))
    message = serializers.CharField(help_text=_("The reason in words, in the request's language."))


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    errors = ErrorItemSerializer(many=True)


def django_validation_error_detail(error: DjangoValidationError, *, field_of_code: dict | None = None) -> dict | list:
    """A Django ValidationError as DRF error details, keyed by field; `field_of_code` places non-field ones."""
    field_of_code = field_of_code or {}
    if hasattr(error, "error_dict"):
        return {
            field: [exceptions.ErrorDetail(message, code=item.code or "invalid") for item in items for message in item]
            for field, items in error.error_dict.items()
        }
    detail: dict[str, list] = {}
    for item in error.error_list:
        field = field_of_code.get(item.code, api_settings.NON_FIELD_ERRORS_KEY)
        for message in item:
            detail.setdefault(field, []).append(exceptions.ErrorDetail(message, code=item.code or "invalid"))
    return detail


def form_errors_detail(form) -> dict:
    """A Django form's errors as DRF error details, keyed by field (the form's own messages and codes)."""
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): [
            exceptions.ErrorDetail(error["message"], code=error["code"] or "invalid") for error in errors
        ]
        for field, errors in form.errors.get_json_data().items()
    }


def flatten(detail, field: str | None = None) -> list[dict]:
    """DRF's nested error detail as a flat list of {field, code, message}."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            key = str(key)
            name = field if key in NON_FIELD_KEYS else (f"{field}.{key}" if field else key)
            items.extend(flatten(value, name))
        return items
    if isinstance(detail, list):
        items = []
        for index, value in enumerate(detail):
            # A list of plain messages belongs to the field; a list of objects is per row.
            nested = isinstance(value, dict | list)
            items.extend(flatten(value, (f"{field}.{index}" if field else str(index)) if nested else field))
        return items
    return [{"field": field, "code": getattr(detail, "code", None) or "invalid", "message": str(detail)}]


def exception_handler(exc, context):
    """DRF's handler (status codes, Retry-After, WWW-Authenticate), then the one body shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(django_validation_error_detail(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args[:1])
    elif isinstance(exc, RequestDataTooBig):
        # A body over DATA_UPLOAD_MAX_MEMORY_SIZE: Django's answer would be its HTML 400 page.
        exc = exceptions.ParseError(_("The request body is too large."), code="too_large")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 page and the error log, never a disguised 4xx
    response.data = {"errors": flatten(exc.detail)}
    return response
