"""Orchestrates a demo seeding run: people first, then customers and their history chunk by chunk."""

import math
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date

import numpy as np
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.demo.bulk import BulkWriter
from crm.demo.clock import DemoCalendar
from crm.demo.customers import demo_customers_seed
from crm.demo.people import CUSTOMERS_PER_REP, demo_people_create, demo_rep_count, demo_team_count
from crm.demo.sales import demo_opportunities_seed
from crm.demo.visits import demo_visits_seed
from crm.models import Contact, Customer, Need
from sales.models import Opportunity, Order, StageChange
from visits.models import FollowUp, Visit

CHUNK_CUSTOMERS = 50_000
DEFER_INDEXES_FROM = 10_000
BULK_MODELS = (Customer, Contact, Need, Visit, FollowUp, Opportunity, StageChange, Order)
CODE_PREFIX = "DEMO-"


class DemoDataExists(Exception):
    """Demo customers are already in the database: seeding again would clash on their codes."""


@transaction.atomic
def demo_seed(
    *,
    customers: int = 1000,
    reps: int | None = None,
    seed: int = 42,
    as_of: date | None = None,
    defer_indexes: bool | None = None,
    opportunity_scale: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Create the demo data set; returns the number of rows written per model label.

    `reps` defaults to one rep per CUSTOMERS_PER_REP customers (at least MIN_REPS);
    the customers are shared out evenly. Deterministic for (customers, reps, seed,
    as_of). Customers and their history are generated and written in chunks of
    about CHUNK_CUSTOMERS, so time and memory grow linearly; a chunk holds whole
    reps, so each rep's visits are laid out over their working days in one place.
    `opportunity_scale` multiplies the opportunities per customer (benchmarks use it).
    One transaction: a failed run leaves nothing.
    With `defer_indexes` (default: from DEFER_INDEXES_FROM customers) the plain
    indexes (and, on PostgreSQL, foreign keys) of the big tables are dropped during
    the load and restored at the end.
    """
    if customers < 1:
        raise ValueError(_("The number of customers must be at least 1."))
    if reps is not None and not 1 <= reps <= customers:
        raise ValueError(_("The number of reps must be between 1 and the number of customers."))
    if not 0 < opportunity_scale <= 4:
        raise ValueError(_("The opportunity scale must be more than 0 and at most 4."))
    if Customer.objects.filter(code__startswith=CODE_PREFIX).exists():
        raise DemoDataExists(_("Demo customers already exist; flush the database first."))
    as_of = as_of or timezone.localdate()
    calendar = DemoCalendar(as_of=as_of, time_zone=settings.TIME_ZONE)
    if reps is None:
        reps = demo_rep_count(customers=customers)
        per_rep = CUSTOMERS_PER_REP
    else:
        per_rep = math.ceil(customers / reps)
    # Rep r owns the customers numbered bounds[r] .. bounds[r + 1] - 1.
    bounds = np.rint(np.linspace(0, customers, reps + 1)).astype(np.int64)
    reps_per_chunk = max(1, CHUNK_CUSTOMERS // per_rep)
    password_hash = make_password(settings.FIELDWISE_DEMO_PASSWORD)  # once: hashing is slow by design
    if defer_indexes is None:
        defer_indexes = customers >= DEFER_INDEXES_FROM

    with BulkWriter() as writer:
        writer.tune_transaction()
        roster = demo_people_create(rng=np.random.default_rng([seed, 0]), reps=reps, password_hash=password_hash)
        with writer.deferred_indexes_and_keys(BULK_MODELS) if defer_indexes else nullcontext():
            for chunk, first_rep in enumerate(range(0, reps, reps_per_chunk)):
                last_rep = min(reps, first_rep + reps_per_chunk)
                rep = np.repeat(np.arange(first_rep, last_rep), np.diff(bounds[first_rep : last_rep + 1]))
                rng = np.random.default_rng([seed, 1, chunk])
                batch = demo_customers_seed(
                    rng=rng,
                    writer=writer,
                    calendar=calendar,
                    roster=roster,
                    rep=rep,
                    first_number=int(bounds[first_rep]) + 1,
                )
                demo_visits_seed(rng=rng, writer=writer, calendar=calendar, roster=roster, customers=batch)
                demo_opportunities_seed(
                    rng=rng, writer=writer, calendar=calendar, roster=roster, customers=batch, scale=opportunity_scale
                )
                if progress is not None:
                    progress(_("%(done)d / %(total)d customers") % {"done": bounds[last_rep], "total": customers})
            if defer_indexes and progress is not None:
                progress(_("Rebuilding indexes and keys..."))
        counts = dict(writer.counts)
    teams = demo_team_count(reps=reps)
    counts.update({"core.User": 1 + teams + reps, "crm.Team": teams, "crm.RepProfile": reps})
    return counts
