"""Reads of the pipeline, scoped to the user."""

from django.db.models import QuerySet

from core.roles import scope_by_owner
from sales.models import Opportunity, Order


def opportunity_list_for_user(*, user) -> QuerySet[Opportunity]:
    return scope_by_owner(
        Opportunity.objects.select_related("customer", "owner", "product", "stage"), user, field="owner"
    )


def order_list_for_user(*, user) -> QuerySet[Order]:
    return scope_by_owner(Order.objects.select_related("opportunity__customer"), user, field="opportunity__owner")
