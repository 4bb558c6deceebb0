"""Writes and workflows of the CRM app."""

import logging
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.roles import Role, user_role, visible_rep_ids
from crm.models import Customer
from visits.models import Visit

logger = logging.getLogger(__name__)


def _check_reassign_scope(*, reassigned_by, customers, new_owner) -> None:
    """Admins (and staff granted crm.change_customer) reassign anything; managers within their teams."""
    role = user_role(reassigned_by)
    if role == Role.ADMIN:
        return
    if role == Role.MANAGER:
        rep_ids = visible_rep_ids(reassigned_by)
        # Unowned customers are outside a manager's scope too (exclude() keeps NULL owners).
        if customers.exclude(owner__in=rep_ids).exists() or not rep_ids.filter(pk=new_owner.pk).exists():
            raise PermissionDenied(_("Managers can only move customers between the reps of the teams they manage."))
        return
    if reassigned_by.is_active and reassigned_by.has_perm("crm.change_customer"):
        return
    raise PermissionDenied(_("You are not allowed to reassign customers."))


@transaction.atomic
def customer_reassign(*, customer_ids: Iterable[int], new_owner, reassigned_by) -> int:
    """Give the customers to `new_owner`; returns how many changed owner.

    The customers' future visits that the planner proposed and nobody confirmed yet
    (status planned, origin planner) follow the customer to the new rep, so the new
    rep's calendar shows them and the old rep stops getting them. Confirmed, manual,
    checked-in, completed, cancelled or past visits stay with the rep who owned them:
    they are commitments or history of that person.
    """
    if not new_owner.is_active or not new_owner.groups.filter(name=Role.REP.value).exists():
        raise ValidationError(
            _("%(user)s is not an active rep: customers can only be assigned to active users in the Rep group."),
            code="invalid_owner",
            params={"user": new_owner},
        )
    ids = {int(pk) for pk in customer_ids}
    customers = Customer.objects.filter(pk__in=ids)
    _check_reassign_scope(reassigned_by=reassigned_by, customers=customers, new_owner=new_owner)

    # Set-based; customers the target already owns are neither touched nor counted.
    moving = list(customers.exclude(owner=new_owner).select_for_update().values_list("pk", flat=True))
    count = Customer.objects.filter(pk__in=moving).update(owner=new_owner, updated_at=timezone.now())
    # The audit trail in one INSERT (an UPDATE sends no per-row signal): who gave which customer to whom.
    Customer.history.bulk_history_create(
        Customer.objects.filter(pk__in=moving), update=True, default_user=reassigned_by, batch_size=1000
    )
    visits_moved = (
        Visit.objects.filter(
            customer_id__in=ids,
            status=Visit.Status.PLANNED,
            origin=Visit.Origin.PLANNER,
            planned_start__gte=timezone.now(),
        )
        .exclude(rep=new_owner)
        .update(rep=new_owner, updated_at=timezone.now())
    )
    logger.info(
        "customer_reassign: %d customers and %d planned visits to user %s by user %s",
        count,
        visits_moved,
        new_owner.pk,
        reassigned_by.pk,
    )
    return count
