"""/api/: the OpenAPI schema, its interactive docs (assets served locally) and version 1."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from api.docs import SwaggerDocsView
from api.views import endpoint_not_found

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SwaggerDocsView.as_view(url_name="api:schema"), name="docs"),
    path("v1/", include(("api.v1.urls", "v1"))),
    # Last: any other /api/ URL answers the API's JSON 404, not the site's HTML page.
    re_path(r"^.*$", endpoint_not_found),
]
