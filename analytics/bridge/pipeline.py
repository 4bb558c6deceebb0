"""Spec section 3 inputs: stages, opportunities with their stage stays, and orders, as arrays in four queries.

Stages map to the funnel's codes (`analytics.funnel.FunnelStage`) by their stable
code and won/lost flags; a stage an admin added is folded into the system stage
just before it in the pipeline order. Stays are built from each opportunity's
StageChange rows in time order: a change enters its `to_stage`, the opportunity's
next change leaves it. Times are epoch seconds, NaN where missing.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.db.models import Exists, OuterRef, Q, QuerySet

from analytics.bridge.beside import beside
from analytics.bridge.columns import load_queryset_columns
from analytics.bridge.expressions import IdIn, epoch_column, flag_column, float_column, int_column
from analytics.funnel import STILL_IN_STAGE, FunnelStage, StageStays, stage_stays
from sales.models import Opportunity, Order, Stage, StageChange

# The stages the code knows by code (sales migration 0002); won/lost go by their flags.
_SYSTEM_CODES = {
    "discovery": FunnelStage.DISCOVERY,
    "communication": FunnelStage.COMMUNICATION,
    "follow-up": FunnelStage.FOLLOW_UP,
}


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class StageTable:
    """Every pipeline stage, in pipeline order; other arrays refer to a stage by its row here."""

    id: np.ndarray  # int64
    code: list[str]
    name: list[str]
    funnel: np.ndarray  # int64 FunnelStage code
    default_probability: np.ndarray  # float64 fraction
    is_terminal: np.ndarray  # bool

    def __len__(self) -> int:
        return int(self.id.shape[0])

    def rows_of(self, stage_ids: np.ndarray) -> np.ndarray:
        """The row of each stage id (every id must be in the table)."""
        order = np.argsort(self.id)
        return order[np.searchsorted(self.id, stage_ids, sorter=order)]


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class OpportunityArrays:
    """One element per opportunity, ids ascending."""

    id: np.ndarray  # int64
    owner_id: np.ndarray  # int64 user id
    stage: np.ndarray  # int64 row in the StageTable: the current stage
    amount: np.ndarray
    probability: np.ndarray  # the hand-set fraction; read only where probability_manual
    probability_manual: np.ndarray  # bool
    opened_at: np.ndarray
    closed_at: np.ndarray  # NaN while open

    def __len__(self) -> int:
        return int(self.id.shape[0])


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class StageChangeArrays:
    """One element per StageChange of the loaded opportunities, by opportunity then time."""

    opportunity: np.ndarray  # int64 index into OpportunityArrays
    stage: np.ndarray  # int64 row in the StageTable: the stage entered
    changed_at: np.ndarray

    def __len__(self) -> int:
        return int(self.opportunity.shape[0])


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class OrderArrays:
    """One element per order: its opportunity's owner and its timestamps."""

    owner_id: np.ndarray  # int64 user id
    amount: np.ndarray
    ordered_at: np.ndarray
    fulfilled_at: np.ndarray  # NaN while not fulfilled

    def __len__(self) -> int:
        return int(self.owner_id.shape[0])


@dataclass(frozen=True, eq=False)  # arrays: compare fields explicitly
class PipelineArrays:
    stages: StageTable
    opportunities: OpportunityArrays
    changes: StageChangeArrays
    stays: StageStays  # in funnel codes, for the `analytics.funnel` kernels
    orders: OrderArrays

    @property
    def funnel_stage(self) -> np.ndarray:
        """Each opportunity's current stage as a FunnelStage code."""
        return self.stages.funnel[self.opportunities.stage]

    @property
    def is_open(self) -> np.ndarray:
        """Whether each opportunity is open now (its current stage is neither Won nor Lost)."""
        return ~self.stages.is_terminal[self.opportunities.stage]


def stage_funnel_codes(*, codes: Sequence[str], is_won: Sequence[bool], is_lost: Sequence[bool]) -> np.ndarray:
    """The FunnelStage code of each stage, given in pipeline order (see the module docstring)."""
    funnel = np.empty(len(codes), dtype=np.int64)
    current = FunnelStage.DISCOVERY
    for row, (code, won, lost) in enumerate(zip(codes, is_won, is_lost, strict=True)):  # a handful of stages
        if won:
            funnel[row] = FunnelStage.WON
        elif lost:
            funnel[row] = FunnelStage.LOST
        else:
            current = _SYSTEM_CODES.get(code, current)
            funnel[row] = current
    return funnel


def load_stage_table() -> StageTable:
    rows = list(
        Stage.objects.order_by("order").values_list("id", "code", "name", "default_probability", "is_won", "is_lost")
    )
    is_won = [row[4] for row in rows]
    is_lost = [row[5] for row in rows]
    codes = [row[1] for row in rows]
    return StageTable(
        id=np.array([row[0] for row in rows], dtype=np.int64),
        code=codes,
        name=[row[2] for row in rows],
        funnel=stage_funnel_codes(codes=codes, is_won=is_won, is_lost=is_lost),
        default_probability=np.array([row[3] for row in rows], dtype=np.float64),
        is_terminal=np.array(is_won, dtype=np.bool_) | np.array(is_lost, dtype=np.bool_),
    )


class _IdAnyArray(IdIn):
    """`IdIn` whose ids PostgreSQL reads as one array at run time: `field = ANY((SELECT array))`.

    A run-time array is one B-tree index scan over the sorted ids, whatever their number
    (rows by id). `IdIn`'s unnested ids are hashed, then probed one index descent each;
    a constant array is costed element by element (7 ms of planning for 33,500 ids), into
    a scan of the whole table. SQLite: as `IdIn`.
    """

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        literal = "{" + ",".join(map(str, self.ids)) + "}"
        # The cast: `ANY((SELECT ...))` alone would read as `ANY (subquery)`, comparing with an array.
        return f"{sql} = ANY((SELECT %s::int8[])::int8[])", (*params, literal)  # noqa: S608


def _opportunities_active_since(owner_ids: list[int] | None, since: datetime) -> QuerySet:
    """Opportunities open now, closed since `since`, or moved since then: all that a period from `since` can see."""
    moved = StageChange.objects.filter(opportunity=OuterRef("pk"), changed_at__gte=since)
    opportunities = Opportunity.objects.filter(
        Q(closed_at__isnull=True)
        | Q(closed_at__gte=since)
        | Q(stage__is_won=False, stage__is_lost=False)
        | Exists(moved)
    )
    if owner_ids is not None:
        opportunities = opportunities.filter(owner_id__in=owner_ids)
    return opportunities


def load_pipeline_arrays(*, owner_ids: Sequence[int] | None, since: datetime, until: datetime) -> PipelineArrays:
    """The pipeline of these owners (None: everybody's) as seen from `since` on, in four queries.

    Opportunities: those open now, closed at or after `since`, or with a stage change
    at or after `since`, with their whole stage history (stays before `since` count
    towards the days spent in a stage; changes after `until` tell whether an entry
    converted). Orders: those of these owners' opportunities fulfilled in [since, until).
    """
    for name, moment in (("since", since), ("until", until)):
        if moment.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware")
    owners = None if owner_ids is None else [int(pk) for pk in owner_ids]
    packed = owners is not None  # a team's pipeline: bounded, so its rows travel packed in arrays
    stages = load_stage_table()
    # The orders depend on nothing loaded here: on the load lane, if there is one, while the rest loads.
    with beside(_load_orders, owners=owners, since=since, until=until, packed=packed) as orders_load:
        opp, change = _load_opportunities_and_changes(owners, since, packed=packed)
        order = orders_load.result()
    opportunity_arrays = OpportunityArrays(
        id=opp["id"],
        owner_id=opp["owner_id"],
        stage=stages.rows_of(opp["stage_id"]),
        amount=opp["amount"],
        probability=opp["probability"],
        probability_manual=opp["probability_manual"].astype(np.bool_),
        opened_at=opp["opened_at"],
        closed_at=opp["closed_at"],
    )
    changes = StageChangeArrays(
        opportunity=np.searchsorted(opportunity_arrays.id, change["opportunity_id"]),
        stage=stages.rows_of(change["stage_id"]),
        changed_at=change["changed_at"],
    )
    return PipelineArrays(
        stages=stages,
        opportunities=opportunity_arrays,
        changes=changes,
        stays=_stays(changes, stages.funnel, len(opportunity_arrays)),
        orders=OrderArrays(
            owner_id=order["owner_id"],
            amount=order["amount"],
            ordered_at=order["ordered_at"],
            fulfilled_at=order["fulfilled_at"],
        ),
    )


def _load_opportunities_and_changes(
    owners: list[int] | None, since: datetime, *, packed: bool
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The opportunities a period from `since` can see, ids ascending, and all their stage changes in order."""
    opportunities = _opportunities_active_since(owners, since)
    opp = load_queryset_columns(
        opportunities.order_by(),  # ids ascending: sorted below, cheaper than the server's sort
        {
            "id": (int_column("pk"), ">i8"),
            "owner_id": (int_column("owner_id"), ">i8"),
            "stage_id": (int_column("stage_id"), ">i8"),
            "amount": (float_column("amount"), ">f8"),
            "probability": (float_column("probability"), ">f8"),
            "probability_manual": (flag_column(Q(probability_manual=True)), ">i8"),
            "opened_at": (epoch_column("opened_at"), ">f8"),
            "closed_at": (epoch_column("closed_at"), ">f8"),
        },
        packed=packed,
    )
    by_id = np.argsort(opp["id"])  # ids are unique: one order
    opp = {name: values[by_id] for name, values in opp.items()}
    # The changes of the opportunities loaded, asked for by id (`_IdAnyArray`): one scan of
    # stagechange_history_idx (sales migration 0005) that reads no table row and returns them in order,
    # with no sort. Applying the opportunities' filter again made PostgreSQL scan every stage change there
    # is, however few were loaded; and no change comes without its opportunity row. Benchmark, team Paris,
    # two years (33,500 opportunities, 108,000 changes): 148 ms (one probe per id, then a sort) -> 68 ms
    # (one scan, sorted in NumPy) -> ~60 ms (from the index, in order).
    change = load_queryset_columns(
        StageChange.objects.filter(_IdAnyArray("opportunity_id", opp["id"].tolist())).order_by(
            "opportunity_id", "changed_at", "pk"
        ),
        {
            "opportunity_id": (int_column("opportunity_id"), ">i8"),
            "stage_id": (int_column("to_stage_id"), ">i8"),
            "changed_at": (epoch_column("changed_at"), ">f8"),
        },
        packed=packed,
    )
    return opp, change


def _load_orders(*, owners: list[int] | None, since: datetime, until: datetime, packed: bool) -> dict[str, np.ndarray]:
    """The orders of these owners' opportunities fulfilled in [since, until), as column arrays."""
    orders = Order.objects.filter(fulfilled_at__gte=since, fulfilled_at__lt=until)
    if owners is not None:
        orders = orders.filter(opportunity__owner_id__in=owners)
    return load_queryset_columns(
        orders.order_by("pk"),
        {
            "owner_id": (int_column("opportunity__owner_id"), ">i8"),
            "amount": (float_column("amount"), ">f8"),
            "ordered_at": (epoch_column("ordered_at"), ">f8"),
            "fulfilled_at": (epoch_column("fulfilled_at"), ">f8"),
        },
        packed=packed,
    )


def _stays(changes: StageChangeArrays, funnel: np.ndarray, n_opportunities: int) -> StageStays:
    """Stays in funnel stages from changes sorted by opportunity then time.

    A change into the funnel stage the opportunity is already in (two stages folded
    into one, or a repeated entry) is no move: the stay goes on.
    """
    opp = changes.opportunity
    code = funnel[changes.stage]
    new_opportunity = np.ones(len(opp), dtype=np.bool_)
    new_opportunity[1:] = opp[1:] != opp[:-1]
    moved = np.ones(len(opp), dtype=np.bool_)
    moved[1:] = code[1:] != code[:-1]
    keep = new_opportunity | moved
    opp, code, entered = opp[keep], code[keep], changes.changed_at[keep]
    last = np.ones(len(opp), dtype=np.bool_)  # the opportunity's latest stay: not left yet
    last[:-1] = opp[:-1] != opp[1:]
    following = np.roll(np.arange(len(opp)), -1)
    return stage_stays(
        opportunity=opp,
        stage=code,
        entered_at=entered,
        left_at=np.where(last, np.nan, entered[following]),
        next_stage=np.where(last, STILL_IN_STAGE, code[following]),
        n_opportunities=n_opportunities,
    )
