"""Demo customers and contacts, generated as NumPy columns for one chunk of reps."""

from dataclasses import dataclass

import numpy as np

from crm.demo.bulk import BulkWriter, nullable
from crm.demo.clock import DAY, HISTORY_DAYS, HOUR, DemoCalendar
from crm.demo.people import KM_PER_DEGREE, Roster
from crm.demo.vocabulary import (
    FIRST_NAMES,
    FIRST_NAMES_ASCII,
    JOB_TITLES,
    LAST_NAMES,
    LAST_NAMES_ASCII,
    LEGAL_FORMS,
    NAME_SYLLABLES,
    REGIONS,
    SEGMENTS,
    STREETS,
    TRADE_WORDS,
    pick,
)
from crm.models import Contact, Customer

TIERS = np.array(["A", "B", "C"])
TIER_SHARE = [0.15, 0.35, 0.50]
TIER_CADENCE_DAYS = np.array([14, 30, 60])
TIER_VALUE_MEDIAN = np.array([150_000.0, 40_000.0, 9_000.0])
TIER_EMPLOYEES_MEDIAN = np.array([400.0, 80.0, 15.0])
CUSTOMER_SIGMA_KM = 20.0
NO_COORDINATES_SHARE = 0.02
INACTIVE_SHARE = 0.03
NEW_THIS_YEAR_SHARE = 0.12
COUNTRIES = sorted(STREETS)
REGION_COUNTRY = np.array([COUNTRIES.index(region[2]) for region in REGIONS])
REGION_PHONE = np.array([region[5] for region in REGIONS])
REGION_CITY = np.array([region[1] for region in REGIONS])


@dataclass(frozen=True)
class CustomerBatch:
    """What later generators need to know about the chunk's customers (one element per customer)."""

    ids: np.ndarray
    rep: np.ndarray  # rep number (index into the roster)
    tier: np.ndarray  # 0 = A, 1 = B, 2 = C
    cadence: np.ndarray
    lat: np.ndarray  # NaN where the customer has no coordinates
    lon: np.ndarray
    created: np.ndarray  # epoch seconds
    first_day: np.ndarray  # history starts (day index; > 0 for customers won this year)
    end_day: np.ndarray  # history ends, exclusive (< 365 for customers that went inactive)
    active: np.ndarray


def _towns() -> tuple[np.ndarray, np.ndarray]:
    """Towns per region, padded: names (regions x towns) and coordinates (regions x towns x 2, NaN padding)."""
    width = max(len(region[6]) for region in REGIONS)
    names = np.full((len(REGIONS), width), "", dtype=object)
    coordinates = np.full((len(REGIONS), width, 2), np.nan)
    for r, region in enumerate(REGIONS):
        for t, (name, lat, lon) in enumerate(region[6]):
            names[r, t] = name
            coordinates[r, t] = (lat, lon)
    return names.astype(str), coordinates


TOWN_NAMES, TOWN_COORDINATES = _towns()


def demo_customers_seed(
    *,
    rng: np.random.Generator,
    writer: BulkWriter,
    calendar: DemoCalendar,
    roster: Roster,
    rep: np.ndarray,
    first_number: int,
) -> CustomerBatch:
    """Write one customer per element of `rep` (the owner's rep number); codes count on from `first_number`."""
    n = rep.size
    region = roster.rep_team[rep]
    country = REGION_COUNTRY[region]
    tier = rng.choice(3, size=n, p=TIER_SHARE)

    # Company names from syllables: "Korvol Logistics GmbH"; the stem also makes the e-mail domain.
    syllables = np.array(NAME_SYLLABLES)
    stem = np.strings.add(syllables[rng.integers(0, syllables.size, n)], syllables[rng.integers(0, syllables.size, n)])
    stem = np.where(rng.random(n) < 0.35, np.strings.add(stem, syllables[rng.integers(0, syllables.size, n)]), stem)
    trade = np.where(rng.random(n) < 0.7, np.strings.add(" ", pick(rng, TRADE_WORDS, n).astype(str)), "")
    legal_forms = np.array([LEGAL_FORMS[c] for c in COUNTRIES])
    legal = legal_forms[country, rng.integers(0, legal_forms.shape[1], n)]
    name = np.strings.add(np.strings.add(np.strings.capitalize(stem), trade), np.strings.add(" ", legal))

    # Coordinates scatter around the owner's home base; a few customers have none.
    home_lat, home_lon = roster.rep_lat[rep], roster.rep_lon[rep]
    offset_km = rng.normal(0.0, CUSTOMER_SIGMA_KM, size=(n, 2))
    lat = np.round(home_lat + offset_km[:, 0] / KM_PER_DEGREE, 6)
    lon = np.round(home_lon + offset_km[:, 1] / (KM_PER_DEGREE * np.cos(np.radians(home_lat))), 6)
    located = rng.random(n) >= NO_COORDINATES_SHARE
    lat[~located] = np.nan
    lon[~located] = np.nan
    # The city is the nearest real town of the region (the region's city when unknown).
    towns = TOWN_COORDINATES[region]
    squared = (towns[:, :, 0] - np.nan_to_num(lat)[:, None]) ** 2
    squared += ((towns[:, :, 1] - np.nan_to_num(lon)[:, None]) * np.cos(np.radians(home_lat))[:, None]) ** 2
    nearest = np.argmin(np.where(np.isnan(squared), np.inf, squared), axis=1)
    city = np.where(located, TOWN_NAMES[region, nearest], REGION_CITY[region])
    streets = np.array([STREETS[c] for c in COUNTRIES])
    address = np.strings.add(
        np.strings.add(rng.integers(1, 180, n).astype(str), " "),
        streets[country, rng.integers(0, streets.shape[1], n)],
    )

    value = np.round(TIER_VALUE_MEDIAN[tier] * rng.lognormal(0.0, 0.6, n), 2)
    employees = np.maximum(1, np.round(TIER_EMPLOYEES_MEDIAN[tier] * rng.lognormal(0.0, 0.8, n))).astype(np.int64)

    # Most customers predate the year of history; some were won during it, a few went inactive.
    new = rng.random(n) < NEW_THIS_YEAR_SHARE
    created_day = np.where(new, rng.integers(0, HISTORY_DAYS - 60, n), -rng.integers(1, 5 * HISTORY_DAYS, n))
    created = calendar.epoch(created_day, rng.integers(9 * HOUR, 17 * HOUR, n))
    first_day = np.maximum(created_day + 1, 0)
    active = rng.random(n) >= INACTIVE_SHARE
    stopped = np.maximum(rng.integers(60, HISTORY_DAYS - 30, n), first_day + 30)
    end_day = np.where(active, HISTORY_DAYS, np.minimum(stopped, HISTORY_DAYS))
    updated = np.where(active, created, np.maximum(created, calendar.epoch(end_day) + 10 * HOUR))

    ids = writer.reserve_ids(Customer, n)
    codes = np.strings.add("DEMO-", np.strings.zfill(np.arange(first_number, first_number + n).astype(str), 6))
    writer.insert(
        Customer,
        {
            "id": ids,
            "code": codes,
            "name": name,
            "tier": TIERS[tier],
            "segment": pick(rng, SEGMENTS, n),
            "address": address,
            "city": city,
            "country": np.array(COUNTRIES)[country],
            "latitude": nullable(lat, located),
            "longitude": nullable(lon, located),
            "owner": roster.rep_ids[rep],
            "annual_value": value,
            "employees": employees,
            "visit_cadence_days": TIER_CADENCE_DAYS[tier],
            "status": np.where(active, "active", "inactive"),
            "created_at": writer.timestamps(created),
            "updated_at": writer.timestamps(updated),
        },
    )
    _contacts_seed(rng=rng, writer=writer, customer_ids=ids, stem=stem, region=region, created=created)
    return CustomerBatch(
        ids=ids,
        rep=rep,
        tier=tier,
        cadence=TIER_CADENCE_DAYS[tier],
        lat=lat,
        lon=lon,
        created=created,
        first_day=first_day,
        end_day=end_day,
        active=active,
    )


def _contacts_seed(
    *,
    rng: np.random.Generator,
    writer: BulkWriter,
    customer_ids: np.ndarray,
    stem: np.ndarray,
    region: np.ndarray,
    created: np.ndarray,
) -> None:
    """One to three contacts per customer; the first is the primary one."""
    per_customer = rng.choice([1, 2, 3], size=customer_ids.size, p=[0.4, 0.4, 0.2])
    owner = np.repeat(np.arange(customer_ids.size), per_customer)
    starts = np.cumsum(per_customer) - per_customer
    primary = np.arange(owner.size) == starts[owner]
    n = owner.size
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    email = np.strings.add(
        np.strings.add(np.array(FIRST_NAMES_ASCII)[first], "."),
        np.strings.add(np.array(LAST_NAMES_ASCII)[last], np.strings.add("@", np.strings.add(stem[owner], ".example"))),
    )
    digits = np.strings.zfill(rng.integers(0, 100_000_000, n).astype(str), 8)
    phone = np.strings.add(np.strings.add(REGION_PHONE[region[owner]], " "), digits)
    stamps = writer.timestamps(created[owner] + rng.integers(0, 30 * DAY, n))
    writer.insert(
        Contact,
        {
            "id": writer.reserve_ids(Contact, n),
            "customer": customer_ids[owner],
            "name": np.strings.add(np.strings.add(np.array(FIRST_NAMES)[first], " "), np.array(LAST_NAMES)[last]),
            "title": pick(rng, JOB_TITLES, n),
            "email": email,
            "phone": phone,
            "is_primary": primary,
            "created_at": stamps,
            "updated_at": stamps,
        },
    )
