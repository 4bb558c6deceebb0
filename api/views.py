"""Views of /api/ outside a version: the JSON answer for a URL that is no endpoint."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.permissions import AllowAny

from api.throttling import AnonThrottle, UserThrottle

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


@extend_schema(exclude=True)
@api_view(ALL_METHODS)
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([UserThrottle, AnonThrottle])
def endpoint_not_found(request, *args, **kwargs):
    raise exceptions.NotFound(_("No such endpoint; the paths end with a slash (see /api/docs/)."))
