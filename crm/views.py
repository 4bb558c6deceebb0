"""Customer pages: the scoped list (search, filters, sort, pages) and the Customer 360 page."""

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from analytics.selectors import customer_profile360, customer_satisfaction_ratios, customer_score_explained
from core.roles import Role, user_role
from crm.change_history import HISTORY_LIMIT, customer_change_history
from crm.filters import CustomerFilter
from crm.models import Customer
from crm.selectors import (
    customer_contacts,
    customer_get_for_user,
    customer_list_with_activity,
    customer_open_needs,
    customer_opportunities,
    customer_visit_history,
)

CUSTOMERS_PER_PAGE = 25


@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    """The user's customers: one search box, filters, a sort order, 25 a page."""
    customers = customer_list_with_activity(user=request.user, now=timezone.now())
    filterset = CustomerFilter(request.GET or None, queryset=customers, user=request.user)
    page = Paginator(filterset.qs, CUSTOMERS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "filter": filterset,
        "page": page,
        "show_owner": user_role(request.user) in (Role.MANAGER, Role.ADMIN),
        "filtered": any(request.GET.get(name) for name in ("q", "tier", "segment", "status", "overdue")),
    }
    return render(request, "crm/customer_list.html", context)


def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Customer 360: who they are, the latest score, the 360 profile, needs, visits, deals, ratios, changes."""
    try:
        customer = customer_get_for_user(user=request.user, pk=pk)
    except Customer.DoesNotExist:
        raise Http404 from None
    # Scope first: another rep's customer is 404 whatever the method, like every object URL.
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    now = timezone.now()
    profile = customer_profile360(user=request.user, customer_id=customer.pk, as_of=now)
    context = {
        "customer": customer,
        "contacts": list(customer_contacts(customer=customer)),
        "score": customer_score_explained(user=request.user, customer_id=customer.pk),
        "profile": profile,
        "profile_chart": profile.chart_data() if profile else None,
        "needs": list(customer_open_needs(customer=customer)),
        "visits": customer_visit_history(customer=customer),
        "opportunities": customer_opportunities(customer=customer),
        "ratios": customer_satisfaction_ratios(user=request.user, customer_id=customer.pk, as_of=now),
        # The audit trail is for managers and admins (issue 8); a rep's page does not even read it.
        "show_history": user_role(request.user) in (Role.MANAGER, Role.ADMIN),
    }
    if context["show_history"]:
        context["history"] = customer_change_history(customer=customer, limit=HISTORY_LIMIT)
        context["history_limit"] = HISTORY_LIMIT
    return render(request, "crm/customer_detail.html", context)
