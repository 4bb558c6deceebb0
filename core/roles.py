"""Roles are Django groups; every scoped read asks this module who a user may see."""

from enum import StrEnum

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _


class Role(StrEnum):
    REP = "Rep"
    MANAGER = "Manager"
    ADMIN = "Admin"


ROLE_LABELS = {Role.REP: _("Rep"), Role.MANAGER: _("Manager"), Role.ADMIN: _("Admin")}


def _group_names(user) -> set[str]:
    # Cached on the user object: one query per request, however often it is asked.
    if not hasattr(user, "_fieldwise_groups"):
        user._fieldwise_groups = set(user.groups.values_list("name", flat=True))
    return user._fieldwise_groups


def user_role(user) -> Role | None:
    """The strongest role of a user: Admin > Manager > Rep; None for anonymous/unassigned."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    groups = _group_names(user)
    for role in (Role.ADMIN, Role.MANAGER, Role.REP):
        if role.value in groups:
            return role
    return None


def is_admin(user) -> bool:
    return user_role(user) == Role.ADMIN


def visible_rep_ids(user) -> QuerySet | None:
    """Ids of the users whose records `user` may see, as a subquery; None means everyone.

    Rep: themself. Manager: themself and the reps of the teams they manage.
    Admin/superuser: everyone (None). Anyone else: nobody.
    """
    role = user_role(user)
    user_model = get_user_model()
    if role == Role.ADMIN:
        return None
    if role == Role.MANAGER:
        from django.db.models import Q

        return user_model.objects.filter(Q(pk=user.pk) | Q(rep_profile__team__managers=user)).values("pk").distinct()
    if role == Role.REP:
        return user_model.objects.filter(pk=user.pk).values("pk")
    return user_model.objects.none().values("pk")


def scope_by_owner(queryset: QuerySet, user, field: str = "owner") -> QuerySet:
    """Restrict a queryset to the rows whose `field` (a user FK) `user` may see."""
    rep_ids = visible_rep_ids(user)
    if rep_ids is None:
        return queryset
    return queryset.filter(**{f"{field}__in": rep_ids})
