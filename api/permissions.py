"""Role checks of the API, from `core.roles` like the pages'."""

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from core.roles import Role, user_role


class IsManagerOrAdmin(BasePermission):
    """Managers and admins: recalculation, reassigning customers (the services check the scope again)."""

    message = _("Only managers and admins may do this.")

    def has_permission(self, request, view) -> bool:
        return user_role(request.user) in (Role.MANAGER, Role.ADMIN)
