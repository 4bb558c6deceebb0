"""Spec section 4 inputs: every opportunity's engagement score x and outcome, in one query.

x counts the COMPLETED visits to the opportunity's customer whose check-out lies
in [opened_at, end], end being the close (closed_at) or, while the opportunity is
open at `as_of`, `as_of` itself. The check-out, not the planned start, is the
moment a visit happened: a visit planned before the opportunity opened but held
after it counts, one planned inside but never held does not. A lead without a
customer has no visits: x = 0.

The outcome is read as of `as_of`: Won (1) or Lost (0) when the opportunity is in
that stage and closed at or before `as_of` (or has no close time recorded), open
(-1) otherwise; an opportunity opened after `as_of` is left out.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from analytics.models import NeedModelFit
from sales.models import Opportunity
from visits.models import Visit

OPEN, LOST, WON = -1, 0, 1


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class NeedEngagement:
    """One element per opportunity (ids ascending): its outcome as of `as_of` and its engagement x."""

    as_of: datetime
    opportunity_id: np.ndarray  # int64
    outcome: np.ndarray  # int8: WON 1, LOST 0, OPEN -1
    engagement: np.ndarray  # int64, completed visits

    def __len__(self) -> int:
        return len(self.opportunity_id)

    def closed(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the opportunities closed Won (y = 1) or Lost (y = 0): the fit's sample, as floats."""
        keep = self.outcome != OPEN
        return self.engagement[keep].astype(np.float64), self.outcome[keep].astype(np.float64)


def _check_aware(as_of: datetime) -> None:
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")


def _engagement_queryset(*, as_of: datetime, opportunity_ids: Sequence[int] | None) -> QuerySet:
    """Opportunities opened by `as_of` annotated with `engagement` (a correlated COUNT, not a query each)."""
    closed_by_then = Q(closed_at__isnull=True) | Q(closed_at__lte=as_of)
    opportunities = Opportunity.objects.filter(opened_at__lte=as_of)
    if opportunity_ids is not None:
        opportunities = opportunities.filter(pk__in=[int(pk) for pk in opportunity_ids])
    # Uses the (customer, status, checked_out_at) index of visits: one range scan per opportunity.
    visits = (
        Visit.objects.filter(
            customer=OuterRef("customer"),
            status=Visit.Status.COMPLETED,
            checked_out_at__gte=OuterRef("opened_at"),
            checked_out_at__lte=OuterRef("engagement_end"),
        )
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        opportunities.annotate(
            engagement_end=Case(
                When(closed_at__lt=as_of, then=F("closed_at")),
                default=Value(as_of),
                output_field=DateTimeField(),
            ),
            outcome=Case(
                When(closed_by_then & Q(stage__is_won=True), then=Value(WON)),
                When(closed_by_then & Q(stage__is_lost=True), then=Value(LOST)),
                default=Value(OPEN),
                output_field=IntegerField(),
            ),
        )
        .annotate(engagement=Coalesce(Subquery(visits, output_field=IntegerField()), Value(0)))
        .order_by("pk")
    )


def load_need_engagement(*, as_of: datetime, opportunity_ids: Sequence[int] | None = None) -> NeedEngagement:
    """Every opportunity opened by `as_of` (or only `opportunity_ids`) with its outcome and x, in one query."""
    _check_aware(as_of)
    rows = np.array(
        _engagement_queryset(as_of=as_of, opportunity_ids=opportunity_ids).values_list("pk", "outcome", "engagement"),
        dtype=np.int64,
    ).reshape(-1, 3)
    return NeedEngagement(
        as_of=as_of,
        opportunity_id=rows[:, 0],
        outcome=rows[:, 1].astype(np.int8),
        engagement=rows[:, 2],
    )


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class EngagementWithModel:
    """Opportunities' x with the a and b of the latest fit (NaN when it is not fitted or there is none)."""

    opportunity_id: np.ndarray  # int64
    engagement: np.ndarray  # int64
    a: float
    b: float


def load_engagement_with_latest_model(*, as_of: datetime, opportunity_ids: Sequence[int]) -> EngagementWithModel:
    """These opportunities' x at `as_of` and the latest fit's a and b, together in one query.

    The latest fit is the latest attempt, fitted or not: when it is not fitted the
    model is not there to use, even if an older attempt was.
    """
    _check_aware(as_of)
    latest = NeedModelFit.objects.order_by("-created_at", "-id")
    rows = list(
        _engagement_queryset(as_of=as_of, opportunity_ids=opportunity_ids)
        .annotate(
            fit_a=Subquery(latest.values("a")[:1], output_field=FloatField()),
            fit_b=Subquery(latest.values("b")[:1], output_field=FloatField()),
        )
        .values_list("pk", "engagement", "fit_a", "fit_b")
    )
    n = len(rows)
    a, b = (np.nan, np.nan) if not rows or rows[0][2] is None or rows[0][3] is None else (rows[0][2], rows[0][3])
    return EngagementWithModel(
        opportunity_id=np.fromiter((row[0] for row in rows), dtype=np.int64, count=n),
        engagement=np.fromiter((row[1] for row in rows), dtype=np.int64, count=n),
        a=float(a),
        b=float(b),
    )
