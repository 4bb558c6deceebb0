"""Reads of visits and follow-ups, scoped to the user."""

from django.db.models import QuerySet

from core.roles import scope_by_owner
from visits.models import FollowUp, Visit


def visit_list_for_user(*, user) -> QuerySet[Visit]:
    """Visits of the reps the user may see (by the visiting rep)."""
    return scope_by_owner(Visit.objects.select_related("customer", "rep"), user, field="rep")


def follow_up_list_for_user(*, user) -> QuerySet[FollowUp]:
    return scope_by_owner(FollowUp.objects.select_related("visit__customer", "assignee"), user, field="assignee")
