"""Spec section 5 inputs: the won amounts of some months and where the sales history begins, in one query.

The monthly series needs only the amount and close time of the deals won in its
months, not the pipeline with its stage history (`analytics.bridge.pipeline`), so
a short report period need not load a year of opportunities. Won is the stage's
flag, as the funnel's WON code is (`stage_funnel_codes`). Times are epoch seconds.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import Q, Subquery

from analytics.bridge.columns import load_queryset_columns
from analytics.bridge.expressions import epoch_column, flag_column, float_column
from sales.models import Opportunity


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class WonSales:
    """The won opportunities closed in a window, one element each, ids ascending."""

    closed_at: np.ndarray  # float64 epoch seconds
    amount: np.ndarray
    first_close: float  # the owners' first close ever (won or lost, in the window or not); NaN when none closed

    def __len__(self) -> int:
        return int(self.closed_at.shape[0])


def load_won_sales(*, owner_ids: Sequence[int] | None, closed_from: datetime, closed_until: datetime) -> WonSales:
    """The opportunities of these owners (None: everybody's) won and closed in [closed_from, closed_until).

    One query: the won rows, plus the row of the owners' first close (the forecast
    fits only the months since their sales began), told apart by a flag.
    """
    for name, moment in (("closed_from", closed_from), ("closed_until", closed_until)):
        if moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    opportunities = Opportunity.objects.all()
    if owner_ids is not None:
        opportunities = opportunities.filter(owner_id__in=[int(pk) for pk in owner_ids])
    first = opportunities.filter(closed_at__isnull=False).order_by("closed_at", "pk").values("pk")[:1]
    won = Q(stage__is_won=True, closed_at__gte=closed_from, closed_at__lt=closed_until)
    rows = load_queryset_columns(
        # Ids ascending: each month's amounts are added in a fixed order (the pipeline load's), to the last bit.
        opportunities.filter(won | Q(pk=Subquery(first))).order_by("pk"),
        {
            "closed_at": (epoch_column("closed_at"), ">f8"),
            "amount": (float_column("amount"), ">f8"),
            "won": (flag_column(won), ">i8"),
        },
        # A team's won deals (bounded) travel packed in arrays; everybody's as plain COPY rows.
        packed=owner_ids is not None,
    )
    is_won = rows["won"].astype(np.bool_)
    closed_at = rows["closed_at"]
    # Every row loaded is closed and the first close's row is among them: the earliest is the first close.
    return WonSales(
        closed_at=closed_at[is_won],
        amount=rows["amount"][is_won],
        first_close=float(closed_at.min()) if len(closed_at) else float("nan"),
    )
