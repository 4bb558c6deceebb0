"""Export of the opportunities list as CSV or XLSX: scoped and filtered exactly like the list."""

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from core.roles import Role, user_role
from core.transfer.exports import export_response
from sales.filters import OpportunityFilter
from sales.resources import OpportunityResource
from sales.selectors import opportunity_list_with_probability


@require_GET
def opportunity_export(request: HttpRequest, fmt: str) -> HttpResponse:
    role = user_role(request.user)
    if role is None:
        raise Http404
    filterset = OpportunityFilter(
        request.GET or None,
        queryset=opportunity_list_with_probability(user=request.user),
        user=request.user,
        show_owner=role in (Role.MANAGER, Role.ADMIN),
    )
    return export_response(resource=OpportunityResource(), queryset=filterset.qs, fmt=fmt, basename="opportunities")
