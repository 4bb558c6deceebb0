"""The interactive API docs: Swagger UI from drf-spectacular-sidecar, no inline script or style.

SpectacularSwaggerSplitView serves the page and its start-up script as two responses
(`?script` for the script), so a Content Security Policy without 'unsafe-inline' allows it;
the page's few styles are in static/api/swagger.css instead of the package template's <style>.
"""

from drf_spectacular.views import SpectacularSwaggerSplitView


class SwaggerDocsView(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    title = "Fieldwise API"
