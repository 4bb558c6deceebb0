"""Reads of the pipeline, scoped to the user."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import Coalesce, RowNumber

from core.roles import Role, scope_by_owner
from sales.models import Opportunity, Order, Stage, StageChange

# The board's Won and Lost columns show the deals closed in this many days (open ones: all of them).
BOARD_CLOSED_DAYS = 30
# Cards drawn per column; the header counts and sums every opportunity of the column.
BOARD_COLUMN_LIMIT = 50
MONEY = DecimalField(max_digits=20, decimal_places=2)
FRACTION = DecimalField(max_digits=4, decimal_places=3)
CENT = Decimal("0.01")


def effective_probability() -> Case:
    """The probability of spec sections 1 and 3: set by hand where it was, else the stage's default.

    A closed deal's outcome is known, so Won and Lost count with their stage's default (1 and 0).
    """
    return Case(
        When(Q(stage__is_won=True) | Q(stage__is_lost=True), then=F("stage__default_probability")),
        When(probability_manual=True, then=F("probability")),
        default=F("stage__default_probability"),
        output_field=FRACTION,
    )


def opportunity_list_for_user(*, user) -> QuerySet[Opportunity]:
    return scope_by_owner(
        Opportunity.objects.select_related("customer", "owner", "product", "stage"), user, field="owner"
    )


def opportunity_get_for_user(*, user, pk: int) -> Opportunity:
    """One opportunity within the user's scope; raises Opportunity.DoesNotExist otherwise (a 404)."""
    return opportunity_list_for_user(user=user).get(pk=pk)


def opportunity_list_with_probability(*, user) -> QuerySet[Opportunity]:
    """The user's opportunities with `chance` (the effective probability) and `weighted` (amount * chance)."""
    chance = effective_probability()
    return opportunity_list_for_user(user=user).annotate(
        chance=chance, weighted=Coalesce(F("amount") * chance, Value(Decimal(0)), output_field=MONEY)
    )


def opportunity_stage_history(*, opportunity: Opportunity) -> list[StageChange]:
    """The opportunity's stage changes, oldest first, with the stages and the person in one query."""
    return list(
        opportunity.stage_changes.select_related("from_stage", "to_stage", "changed_by").order_by("changed_at", "id")
    )


def stage_list() -> list[Stage]:
    return list(Stage.objects.order_by("order"))


def owner_choices_for_user(*, user) -> QuerySet:
    """Active reps and managers whose opportunities `user` may see (themself included), by name."""
    people = get_user_model().objects.filter(
        Q(groups__name__in=[Role.REP.value, Role.MANAGER.value]) | Q(pk=user.pk), is_active=True
    )
    return scope_by_owner(people, user, field="pk").distinct().order_by("first_name", "last_name", "username")


# --- the board ----------------------------------------------------------------------------------


def board_opportunities(*, queryset: QuerySet[Opportunity], now: datetime) -> QuerySet[Opportunity]:
    """What the board shows of `queryset`: every open opportunity, and those closed in the last BOARD_CLOSED_DAYS."""
    since = now - timedelta(days=BOARD_CLOSED_DAYS)
    return queryset.filter(Q(stage__is_won=False, stage__is_lost=False) | Q(closed_at__gte=since))


@dataclass(frozen=True)
class ColumnTotals:
    count: int
    amount: Decimal
    weighted: Decimal


def board_column_totals(*, queryset: QuerySet[Opportunity]) -> dict[int, ColumnTotals]:
    """Per stage id: how many opportunities, their amount and weighted amount (sum amount * probability).

    One aggregate query (GROUP BY stage) whatever the number of stages and opportunities.
    """
    rows = (
        queryset.order_by()
        .values("stage_id")
        .annotate(
            n=Count("pk"),
            amount_sum=Coalesce(Sum("amount"), Value(Decimal(0)), output_field=MONEY),
            weighted_sum=Coalesce(Sum(F("amount") * effective_probability()), Value(Decimal(0)), output_field=MONEY),
        )
    )
    # Databases answer with their own scale (SQLite: a float); the board shows cents.
    return {
        row["stage_id"]: ColumnTotals(
            count=row["n"], amount=row["amount_sum"].quantize(CENT), weighted=row["weighted_sum"].quantize(CENT)
        )
        for row in rows
    }


def board_cards(*, queryset: QuerySet[Opportunity], limit: int | None = None) -> dict[int, list[Opportunity]]:
    """Per stage id, at most `limit` (default BOARD_COLUMN_LIMIT) cards in one query: open deals closing
    soonest first, then the largest; closed ones newest first."""
    limit = limit or BOARD_COLUMN_LIMIT
    chance = effective_probability()
    ranked = queryset.annotate(
        chance=chance,
        column_rank=Window(
            RowNumber(),
            partition_by=[F("stage_id")],
            order_by=[
                F("closed_at").desc(nulls_last=True),
                F("expected_close").asc(nulls_last=True),
                F("amount").desc(),
                F("pk").asc(),
            ],
        ),
    ).filter(column_rank__lte=limit)
    cards: dict[int, list[Opportunity]] = {}
    for card in ranked.order_by("stage_id", "column_rank"):
        cards.setdefault(card.stage_id, []).append(card)
    return cards


# --- orders -----------------------------------------------------------------------------------


def order_list_for_user(*, user) -> QuerySet[Order]:
    return scope_by_owner(
        Order.objects.select_related("opportunity__customer", "opportunity__product", "opportunity__owner"),
        user,
        field="opportunity__owner",
    )
