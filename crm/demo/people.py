"""Demo users, teams, rep profiles and the product catalogue: a few hundred rows, written with the ORM."""

import re
from dataclasses import dataclass
from datetime import time

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import Role
from crm.demo.vocabulary import FIRST_NAMES, LAST_NAMES, PRODUCTS, REGIONS
from crm.models import MONDAY_TO_FRIDAY, RepProfile, Team
from sales.models import Product, Stage

KM_PER_DEGREE = 111.32
CUSTOMERS_PER_REP = 150
MIN_REPS = 4
HOME_BASE_SIGMA_KM = 4.0
HOME_BASE_MAX_KM = 10.0
ADMIN_USERNAME = "admin"
MANAGER_PREFIX = "manager"
REP_PREFIX = "rep"


@dataclass(frozen=True)
class Roster:
    """Who and what the generated rows point at, as arrays indexed by rep / team number."""

    rep_ids: np.ndarray  # user id of rep r
    rep_team: np.ndarray  # team number (index into REGIONS) of rep r
    rep_lat: np.ndarray
    rep_lon: np.ndarray
    product_ids: np.ndarray
    product_prices: np.ndarray
    stage_ids: dict[str, int]
    stage_probability: dict[str, float]


def demo_team_count(*, reps: int) -> int:
    return int(np.clip(reps // 2, 3, len(REGIONS)))


def demo_rep_count(*, customers: int) -> int:
    return max(MIN_REPS, round(customers / CUSTOMERS_PER_REP))


def demo_people_create(*, rng: np.random.Generator, reps: int, password_hash: str) -> Roster:
    """Create (or reuse, by username/name) the admin, one manager per team, the reps and the catalogue."""
    user_model = get_user_model()
    team_count = demo_team_count(reps=reps)
    teams = []
    for name, *_ in REGIONS[:team_count]:
        team, _created = Team.objects.get_or_create(name=name)
        teams.append(team)

    first = rng.integers(0, len(FIRST_NAMES), size=1 + team_count + reps)
    last = rng.integers(0, len(LAST_NAMES), size=first.size)
    usernames = [ADMIN_USERNAME]
    usernames += [f"{MANAGER_PREFIX}{i + 1}" for i in range(team_count)]
    usernames += [f"{REP_PREFIX}{i + 1}" for i in range(reps)]
    user_model.objects.bulk_create(
        [
            user_model(
                username=username,
                first_name=FIRST_NAMES[f],
                last_name=LAST_NAMES[g],
                email=f"{username}@fieldwise.example",
                password=password_hash,
                is_staff=username == ADMIN_USERNAME,
                is_superuser=username == ADMIN_USERNAME,
            )
            for username, f, g in zip(usernames, first.tolist(), last.tolist(), strict=True)
        ],
        ignore_conflicts=True,
    )
    ids = dict(user_model.objects.filter(username__in=usernames).values_list("username", "id"))
    admin_id = ids[ADMIN_USERNAME]
    manager_ids = [ids[name] for name in usernames[1 : 1 + team_count]]
    rep_ids = np.array([ids[name] for name in usernames[1 + team_count :]], dtype=np.int64)

    groups = dict(Group.objects.filter(name__in=[role.value for role in Role]).values_list("name", "id"))
    membership = user_model.groups.through
    links = [(admin_id, groups[Role.ADMIN])]
    links += [(user_id, groups[Role.MANAGER]) for user_id in manager_ids]
    links += [(user_id, groups[Role.REP]) for user_id in rep_ids.tolist()]
    membership.objects.bulk_create(
        [membership(user_id=user_id, group_id=group_id) for user_id, group_id in links], ignore_conflicts=True
    )
    managed = Team.managers.through
    managed.objects.bulk_create(
        [managed(team_id=team.pk, user_id=user_id) for team, user_id in zip(teams, manager_ids, strict=True)],
        ignore_conflicts=True,
    )

    # Reps are dealt round-robin over the teams; home bases lie within 10 km of the team's city.
    rep_team = np.arange(reps) % team_count
    city_lat = np.array([region[3] for region in REGIONS])[rep_team]
    city_lon = np.array([region[4] for region in REGIONS])[rep_team]
    offset_km = rng.normal(0.0, HOME_BASE_SIGMA_KM, size=(reps, 2))
    distance_km = np.maximum(np.hypot(offset_km[:, 0], offset_km[:, 1]), 1e-9)
    offset_km *= np.minimum(1.0, HOME_BASE_MAX_KM / distance_km)[:, None]
    rep_lat = np.round(city_lat + offset_km[:, 0] / KM_PER_DEGREE, 6)
    rep_lon = np.round(city_lon + offset_km[:, 1] / (KM_PER_DEGREE * np.cos(np.radians(city_lat))), 6)
    RepProfile.objects.bulk_create(
        [
            RepProfile(
                user_id=user_id,
                team=teams[team],
                home_latitude=lat,
                home_longitude=lon,
                working_days=MONDAY_TO_FRIDAY,
                day_start=time(8, 30),
                day_end=time(17, 30),
                lunch_start=time(12, 0),
                lunch_minutes=60,
            )
            for user_id, team, lat, lon in zip(
                rep_ids.tolist(), rep_team.tolist(), rep_lat.tolist(), rep_lon.tolist(), strict=True
            )
        ],
        ignore_conflicts=True,
    )
    # A reused rep keeps its profile: read the bases back so customers gather around them.
    profiles = {
        user_id: (team_id, lat, lon)
        for user_id, team_id, lat, lon in RepProfile.objects.filter(user_id__in=rep_ids.tolist()).values_list(
            "user_id", "team_id", "home_latitude", "home_longitude"
        )
    }
    team_number = {team.pk: number for number, team in enumerate(teams)}
    for r, user_id in enumerate(rep_ids.tolist()):
        team_id, lat, lon = profiles[user_id]
        if team_id in team_number and lat is not None and lon is not None:
            rep_team[r], rep_lat[r], rep_lon[r] = team_number[team_id], lat, lon

    Product.objects.bulk_create(
        [Product(name=name, series=series, list_price=price) for name, series, price in PRODUCTS],
        ignore_conflicts=True,
    )
    products = list(Product.objects.filter(name__in=[row[0] for row in PRODUCTS]).values_list("id", "list_price"))
    stages = list(Stage.objects.values_list("code", "id", "default_probability"))
    return Roster(
        rep_ids=rep_ids,
        rep_team=rep_team,
        rep_lat=rep_lat,
        rep_lon=rep_lon,
        product_ids=np.array([pk for pk, _price in products], dtype=np.int64),
        product_prices=np.array([float(price) for _pk, price in products]),
        stage_ids={code: pk for code, pk, _p in stages},
        stage_probability={code: float(p) for code, _pk, p in stages},
    )


def demo_logins() -> dict:
    """The demo accounts present in the database: admin, a manager, two reps and the rep count."""
    user_model = get_user_model()
    rep_pattern = re.compile(rf"^{REP_PREFIX}(\d+)$")
    manager_pattern = re.compile(rf"^{MANAGER_PREFIX}(\d+)$")
    names = (
        user_model.objects.filter(groups__name__in=[Role.REP, Role.MANAGER])
        .values_list("username", flat=True)
        .distinct()
    )
    reps = sorted(int(m.group(1)) for m in map(rep_pattern.match, names) if m)
    managers = sorted(int(m.group(1)) for m in map(manager_pattern.match, names) if m)
    return {
        "admin": ADMIN_USERNAME if user_model.objects.filter(username=ADMIN_USERNAME).exists() else None,
        "manager": f"{MANAGER_PREFIX}{managers[0]}" if managers else None,
        "reps": [f"{REP_PREFIX}{n}" for n in reps[:2]],
        "rep_count": len(reps),
        "last_rep": f"{REP_PREFIX}{reps[-1]}" if reps else None,
    }
