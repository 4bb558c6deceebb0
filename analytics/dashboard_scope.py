"""Whose figures a dashboard shows: a manager's teams (one or all of them), an admin's choice.

The reps of a team are the users whose rep profile belongs to it, inactive ones too (a past
period still counts their work). A team or rep outside the user's reach raises
`Http404`, like any other object a user may not see.
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.http import Http404

from core.roles import Role, user_role
from crm.models import Team

# What the dashboard uses of a rep (id, name): loading only these makes the 100+ users of a team a third cheaper.
REP_FIELDS = ("pk", "username", "first_name", "last_name")


@dataclass(frozen=True)
class DashboardScope:
    teams: list[Team]  # the teams the user may choose from
    team: Team | None  # None: all of them
    reps: list  # users whose figures the dashboard shows, by name; only REP_FIELDS loaded
    rep: object | None  # one rep chosen among them, or None

    @property
    def rep_ids(self) -> list[int]:
        return [self.rep.pk] if self.rep is not None else [r.pk for r in self.reps]


def dashboard_visible(*, user) -> bool:
    return user_role(user) in (Role.MANAGER, Role.ADMIN)


def dashboard_teams_for_user(*, user) -> list[Team]:
    role = user_role(user)
    if role == Role.ADMIN:
        return list(Team.objects.order_by("name"))
    if role == Role.MANAGER:
        return list(Team.objects.filter(managers=user).order_by("name"))
    return []


def dashboard_scope_for_user(*, user, team_id: int | None = None, rep_id: int | None = None) -> DashboardScope:
    """The teams the user may pick, the chosen one (or all) and its reps. Two queries."""
    if not dashboard_visible(user=user):
        raise Http404
    teams = dashboard_teams_for_user(user=user)
    if team_id is not None:
        team = next((t for t in teams if t.pk == team_id), None)
        if team is None:
            raise Http404
        chosen = [team]
    else:
        team, chosen = None, teams
    users = get_user_model().objects.order_by("last_name", "first_name", "username").only(*REP_FIELDS)
    if team is None and user_role(user) == Role.ADMIN:
        # "All" for an admin is every rep, those in no team included.
        reps = list(users.filter(rep_profile__isnull=False))
    else:
        reps = list(users.filter(rep_profile__team__in=[t.pk for t in chosen]))
    rep = None
    if rep_id is not None:
        rep = next((r for r in reps if r.pk == rep_id), None)
        if rep is None:
            raise Http404
    return DashboardScope(teams=teams, team=team, reps=reps, rep=rep)
