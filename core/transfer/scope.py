"""Whose records an import may create or change: the importing user's scope, evaluated once."""

from dataclasses import dataclass

from core.roles import Role, user_role, visible_rep_ids


@dataclass(frozen=True)
class ImportScope:
    """`rep_ids` are the owners whose records the user may write; None means anyone's."""

    rep_ids: frozenset[int] | None

    @classmethod
    def for_user(cls, user, *, perm: str) -> "ImportScope":
        """Admin: everything. Manager: the reps of their teams (and themself). Other staff granted
        `perm` in the Django admin: everything, like the admin's other pages. Anyone else: nothing."""
        if user is None or not user.is_authenticated or not user.is_active:
            return cls(rep_ids=frozenset())
        role = user_role(user)
        if role == Role.ADMIN:
            return cls(rep_ids=None)
        if role == Role.MANAGER:
            return cls(rep_ids=frozenset(visible_rep_ids(user).values_list("pk", flat=True)))
        if user.is_staff and user.has_perm(perm):
            return cls(rep_ids=None)
        return cls(rep_ids=frozenset())

    @property
    def limited(self) -> bool:
        return self.rep_ids is not None

    def owns(self, owner_id: int | None) -> bool:
        """May the user write a record owned by `owner_id`? (An unowned record: admins only.)"""
        return self.rep_ids is None or (owner_id is not None and owner_id in self.rep_ids)
