"""Reads of CRM data, always scoped to what the asking user may see."""

from django.db.models import QuerySet

from core.roles import scope_by_owner
from crm.models import Customer, Need, Team


def customer_list_for_user(*, user) -> QuerySet[Customer]:
    """Customers the user may see: a rep their own, a manager their teams', an admin all."""
    return scope_by_owner(Customer.objects.select_related("owner"), user, field="owner")


def customer_get_for_user(*, user, pk: int) -> Customer:
    """One customer within the user's scope; raises Customer.DoesNotExist otherwise (a 404)."""
    return customer_list_for_user(user=user).get(pk=pk)


def need_list_for_user(*, user) -> QuerySet[Need]:
    return scope_by_owner(Need.objects.select_related("customer"), user, field="customer__owner")


def team_list_for_user(*, user) -> QuerySet[Team]:
    """Teams a manager manages (all for an admin, the rep's own team for a rep)."""
    from core.roles import Role, user_role

    role = user_role(user)
    if role == Role.ADMIN:
        return Team.objects.all()
    if role == Role.MANAGER:
        return Team.objects.filter(managers=user)
    if role == Role.REP:
        return Team.objects.filter(members__user=user)
    return Team.objects.none()
