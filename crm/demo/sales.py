"""Opportunities of one chunk of customers with their stage histories, and the orders of the won ones."""

import numpy as np

from crm.demo.bulk import BulkWriter, nullable
from crm.demo.clock import DAY, HOUR, DemoCalendar
from crm.demo.customers import CustomerBatch
from crm.demo.people import Roster
from crm.demo.vocabulary import LOST_REASONS, pick
from sales.models import Opportunity, Order, StageChange

# Column k of a path is the k-th stage entered: discovery, communication, follow-up, won.
PATH = ("discovery", "communication", "follow-up", "won")
LOST = 4  # code of "lost" in STAGE_CODES
STAGE_CODES = (*PATH, "lost")
TIER_OPPORTUNITIES = np.array([2.2, 1.5, 1.1])  # mean opportunities per customer over the year
TIER_WIN_SHARE = np.array([0.55, 0.45, 0.35])  # eventually won; the rest are lost
LOST_FROM_SHARE = [0.3, 0.35, 0.35]  # lost while in discovery, communication, follow-up
DWELL_MIN_DAYS = np.array([2, 3, 2])  # days spent in discovery, communication, follow-up
DWELL_MEAN_EXTRA_DAYS = np.array([12.0, 20.0, 16.0])
TIER_QUANTITY_MEDIAN = np.array([8.0, 4.0, 2.0])
FULFILLED_SHARE = 0.9


def demo_opportunities_seed(
    *,
    rng: np.random.Generator,
    writer: BulkWriter,
    calendar: DemoCalendar,
    roster: Roster,
    customers: CustomerBatch,
    scale: float = 1.0,
) -> None:
    """Write opportunities opened over the year, their stage changes up to as-of, and orders for the won ones.

    Each opportunity draws a full path (won, or lost from some stage) with whole-day dwell
    times; the changes after as-of are cut, which leaves the recent ones open at some stage.
    `scale` multiplies the mean number of opportunities per customer (at most 5 each).
    """
    now = calendar.now
    per_customer = np.minimum(rng.poisson(TIER_OPPORTUNITIES[customers.tier] * scale), 5)
    customer = np.repeat(np.arange(customers.ids.size), per_customer)
    m = customer.size
    tier = customers.tier[customer]
    first, end = customers.first_day[customer], customers.end_day[customer]
    opened_day = first + (rng.random(m) * (end - first)).astype(np.int64)

    dwell = DWELL_MIN_DAYS + rng.exponential(DWELL_MEAN_EXTRA_DAYS, size=(m, 3)).astype(np.int64)
    day = np.cumsum(np.column_stack([opened_day, dwell]), axis=1)
    changed_at = calendar.epoch(day, rng.integers(9 * HOUR, 17 * HOUR, size=(m, 4)))
    column = np.arange(4)
    won = rng.random(m) < TIER_WIN_SHARE[tier]
    last_column = np.where(won, 3, rng.choice([1, 2, 3], size=m, p=LOST_FROM_SHARE))
    to_code = np.where(~won[:, None] & (column == last_column[:, None]), LOST, column)
    happened = (column <= last_column[:, None]) & (changed_at < now)  # a prefix of each row
    reached = happened.sum(axis=1) - 1
    rows = np.arange(m)
    stage_code = to_code[rows, reached]
    last_change = changed_at[rows, reached]
    closed = stage_code >= 3
    is_won = stage_code == 3

    stage_ids = np.array([roster.stage_ids[code] for code in STAGE_CODES], dtype=np.int64)
    probability = np.array([roster.stage_probability[code] for code in STAGE_CODES])
    product = rng.integers(0, roster.product_ids.size, m)
    quantity = np.maximum(1, np.rint(TIER_QUANTITY_MEDIAN[tier] * rng.lognormal(0.0, 0.7, m)))
    amount = np.round(roster.product_prices[product] * quantity, 2)
    owner = roster.rep_ids[customers.rep[customer]]
    opened_at = changed_at[:, 0]

    ids = writer.reserve_ids(Opportunity, m)
    writer.insert(
        Opportunity,
        {
            "id": ids,
            "customer": customers.ids[customer],
            "owner": owner,
            "product": roster.product_ids[product],
            "amount": amount,
            "stage": stage_ids[stage_code],
            "probability": probability[stage_code],
            "probability_manual": np.zeros(m, dtype=bool),
            "expected_close": calendar.iso_date(opened_day + rng.integers(30, 120, m)),
            "opened_at": writer.timestamps(opened_at),
            "closed_at": writer.timestamps(last_change, closed),
            "lost_reason": np.where(stage_code == LOST, pick(rng, LOST_REASONS, m), ""),
            "created_at": writer.timestamps(opened_at),
            "updated_at": writer.timestamps(last_change),
        },
    )

    # The history: None -> discovery, then one row per forward move (or the move to lost).
    opportunity, step = np.nonzero(happened)
    from_code = to_code[opportunity, np.maximum(step - 1, 0)]
    writer.insert(
        StageChange,
        {
            "id": writer.reserve_ids(StageChange, opportunity.size),
            "opportunity": ids[opportunity],
            "from_stage": nullable(stage_ids[from_code], step > 0),
            "to_stage": stage_ids[to_code[opportunity, step]],
            "changed_at": writer.timestamps(changed_at[opportunity, step]),
            "changed_by": owner[opportunity],
        },
    )

    # Every won opportunity has its order, placed when it was won; most are fulfilled days later.
    won_rows = np.flatnonzero(is_won)
    ordered_at = last_change[won_rows]
    fulfilled_at = ordered_at + rng.integers(2 * DAY, 25 * DAY, won_rows.size)
    fulfilled = (rng.random(won_rows.size) < FULFILLED_SHARE) & (fulfilled_at < now)
    writer.insert(
        Order,
        {
            "id": writer.reserve_ids(Order, won_rows.size),
            "opportunity": ids[won_rows],
            "amount": amount[won_rows],
            "ordered_at": writer.timestamps(ordered_at),
            "fulfilled_at": writer.timestamps(fulfilled_at, fulfilled),
            "created_at": writer.timestamps(ordered_at),
            "updated_at": writer.timestamps(np.where(fulfilled, fulfilled_at, ordered_at)),
        },
    )
