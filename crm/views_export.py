"""Exports of the customers list: its customers, or their contacts, as CSV or XLSX.

Scoped and filtered exactly like the list (same selector, same filters and query
string), so a download holds what the list shows, all pages of it.
"""

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from core.roles import user_role
from core.transfer.exports import export_response
from crm.filters import CustomerFilter
from crm.models import Contact
from crm.resources import ContactResource, CustomerResource
from crm.selectors import customer_list_with_activity


def _listed_customers(request: HttpRequest):
    if user_role(request.user) is None:
        raise Http404
    customers = customer_list_with_activity(user=request.user, now=timezone.now())
    return CustomerFilter(request.GET or None, queryset=customers, user=request.user).qs


@require_GET
def customer_export(request: HttpRequest, fmt: str) -> HttpResponse:
    customers = _listed_customers(request)
    return export_response(resource=CustomerResource(), queryset=customers, fmt=fmt, basename="customers")


@require_GET
def contact_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The contacts of the listed customers, by customer, primary contact first."""
    customers = _listed_customers(request)
    contacts = Contact.objects.filter(customer__in=customers.values("pk")).order_by(
        "customer__name", "customer__code", "-is_primary", "name", "pk"
    )
    return export_response(resource=ContactResource(), queryset=contacts, fmt=fmt, basename="contacts")
