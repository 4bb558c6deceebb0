"""Spec section 1 scoring: every customer's inputs in one query, the score columns written back in bulk."""

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime

import numpy as np
from django.db import connection, transaction

from analytics.bridge.columns import (
    _COPY_CHUNK_BYTES,
    _COPY_HEADER,
    _COPY_TRAILER,
    _col,
    _copy_row_dtype,
    _logged,
    _q,
    _table,
    load_columns,
)
from analytics.bridge.expressions import SECONDS_PER_DAY
from analytics.models import CustomerScore, PlanRun, ScoringPolicy
from analytics.run_compute import PolicyParams, ScoreArrays, ScoringInputs
from crm.models import Customer, RepProfile
from sales.models import Opportunity, Stage
from visits.models import Visit

_STAGE_TABLE = "fieldwise_score_stage"

# Columns of the input query, in order, with their PostgreSQL binary type.
_INPUT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("customer_id", ">i8"),
    ("tier_index", ">i2"),
    ("annual_value", ">f8"),
    ("cadence_days", ">f8"),
    ("last_visit_epoch", ">f8"),
    ("weighted_open_pipeline", ">f8"),
    ("latitude", ">f8"),
    ("longitude", ">f8"),
    ("base_latitude", ">f8"),
    ("base_longitude", ">f8"),
)
_SCORE_COLUMNS = tuple(f.name for f in fields(ScoreArrays))


def _inputs_query(vendor: str, *, as_of: datetime, ids: list[int] | None) -> tuple[str, list]:
    """One statement: customers LEFT JOINed to per-customer aggregates (no query per customer).

    All active customers, or, with `ids`, these customers whatever their status;
    the id filter is repeated inside each aggregate so one customer's page does not
    aggregate everybody's visits.
    """
    c, v, o, s, r = "c", "lv", "op", "st", "rp"
    if vendor == "postgresql":
        epoch = f"EXTRACT(EPOCH FROM MAX({_col(Visit, 'checked_out_at')}))::float8"

        def num(expr: str) -> str:
            # NaN instead of NULL keeps every row the same width, so NumPy can view the COPY stream.
            return f"COALESCE(({expr})::float8, 'NaN'::float8)"

        tier_type = "::int2"
    else:
        epoch = f"(julianday(MAX({_col(Visit, 'checked_out_at')})) - 2440587.5) * {SECONDS_PER_DAY}"

        def num(expr: str) -> str:
            return f"CAST({expr} AS REAL)"

        tier_type = ""

    def only_ids(column: str) -> tuple[str, list]:
        if ids is None:
            return "", []
        if vendor == "postgresql":
            return f" AND {column} = ANY(%s)", [ids]
        return f" AND {column} IN ({', '.join(['%s'] * len(ids)) or 'NULL'})", list(ids)

    visit_ids, visit_params = only_ids(_col(Visit, "customer"))
    opp_ids, opp_params = only_ids(f"o.{_col(Opportunity, 'customer')}")
    if ids is None:
        which, which_params = f"{c}.{_col(Customer, 'status')} = %s", [Customer.Status.ACTIVE]
    else:
        which, which_params = only_ids(f"{c}.{_col(Customer, 'id')}")
        which = "TRUE" + which if vendor == "postgresql" else "1" + which
    probability = (
        f"CASE WHEN o.{_col(Opportunity, 'probability_manual')} THEN o.{_col(Opportunity, 'probability')} "
        f"ELSE {s}.{_col(Stage, 'default_probability')} END"
    )
    # Identifiers come from model _meta (quoted); every value is a bound parameter.
    sql = f"""
SELECT {c}.{_col(Customer, "id")},
       (CASE {c}.{_col(Customer, "tier")} WHEN %s THEN 0 WHEN %s THEN 1 ELSE 2 END){tier_type},
       {num(f"{c}.{_col(Customer, 'annual_value')}")},
       {num(f"{c}.{_col(Customer, 'visit_cadence_days')}")},
       {num(f"{v}.last_out")},
       {num(f"COALESCE({o}.pipeline, 0)")},
       {num(f"{c}.{_col(Customer, 'latitude')}")},
       {num(f"{c}.{_col(Customer, 'longitude')}")},
       {num(f"{r}.{_col(RepProfile, 'home_latitude')}")},
       {num(f"{r}.{_col(RepProfile, 'home_longitude')}")}
FROM {_table(Customer)} {c}
LEFT JOIN (
    SELECT {_col(Visit, "customer")} AS customer_id, {epoch} AS last_out
    FROM {_table(Visit)}
    WHERE {_col(Visit, "status")} = %s AND {_col(Visit, "checked_out_at")} <= %s{visit_ids}
    GROUP BY {_col(Visit, "customer")}
) {v} ON {v}.customer_id = {c}.{_col(Customer, "id")}
LEFT JOIN (
    SELECT o.{_col(Opportunity, "customer")} AS customer_id,
           SUM(o.{_col(Opportunity, "amount")} * {probability}) AS pipeline
    FROM {_table(Opportunity)} o
    JOIN {_table(Stage)} {s} ON {s}.{_col(Stage, "id")} = o.{_col(Opportunity, "stage")}
    WHERE NOT {s}.{_col(Stage, "is_won")} AND NOT {s}.{_col(Stage, "is_lost")}
      AND o.{_col(Opportunity, "customer")} IS NOT NULL{opp_ids}
    GROUP BY o.{_col(Opportunity, "customer")}
) {o} ON {o}.customer_id = {c}.{_col(Customer, "id")}
LEFT JOIN {_table(RepProfile)} {r} ON {r}.{_col(RepProfile, "user")} = {c}.{_col(Customer, "owner")}
WHERE {which}"""  # noqa: S608
    params = [
        Customer.Tier.A,
        Customer.Tier.B,
        Visit.Status.COMPLETED,
        connection.ops.adapt_datetimefield_value(as_of),
        *visit_params,
        *opp_params,
        *which_params,
    ]
    return sql, params


def load_scoring_inputs(*, as_of: datetime, customer_ids: Sequence[int] | None = None) -> ScoringInputs:
    """Every active customer's section 1 inputs at `as_of`, as aligned arrays, in one query.

    Latest completed visit: the max check-out at or before `as_of`; open weighted
    pipeline: sum of amount * (hand-set probability, else the stage default) over
    opportunities neither won nor lost; base: the owner rep's home coordinates.
    `customer_ids` loads these customers instead, whatever their status (the
    customer page explains one stored score).
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    vendor = connection.vendor
    ids = None if customer_ids is None else [int(pk) for pk in customer_ids]
    sql, params = _inputs_query(vendor, as_of=as_of, ids=ids)
    columns = load_columns(sql, params, _INPUT_COLUMNS)
    last = columns.pop("last_visit_epoch")
    with np.errstate(invalid="ignore"):
        days = (as_of.timestamp() - last) / SECONDS_PER_DAY
    days[np.isnan(last)] = np.inf  # never visited
    return ScoringInputs(
        customer_id=columns["customer_id"].astype(np.int64),
        tier_index=columns["tier_index"].astype(np.int8),
        days_since_last_visit=days,
        **{name: columns[name].astype(np.float64) for name, _ in _INPUT_COLUMNS[2:] if name in columns},
    )


def policy_params(policy: ScoringPolicy) -> PolicyParams:
    return PolicyParams(
        weights=(policy.w1, policy.w2, policy.w3),
        t5=(policy.t5_a, policy.t5_b, policy.t5_c),
        t6=(policy.t6_a, policy.t6_b, policy.t6_c),
        speed_kmh=policy.speed_kmh,
        default_travel_km=policy.default_travel_km,
        max_visit_minutes=policy.max_visit_minutes,
    )


# --- save -----------------------------------------------------------------------------------


def save_scores(
    *,
    run: PlanRun,
    policy: ScoringPolicy,
    computed_at: datetime,
    customer_ids: np.ndarray,
    scores: ScoreArrays,
) -> int:
    """Make the score table hold exactly these customers' scores: upsert each row, delete the rest.

    One transaction: a reader sees the previous run's scores or this run's, never a
    mix. Rows of customers not in `customer_ids` (no longer active) are deleted.
    Returns the number of rows written.
    """
    if computed_at.tzinfo is None:
        raise ValueError("computed_at must be timezone-aware")
    n = len(customer_ids)
    if any(len(getattr(scores, name)) != n for name in _SCORE_COLUMNS):
        raise ValueError("score arrays are not aligned with customer_ids")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            _save_postgresql(run.pk, policy.pk, computed_at, customer_ids, scores)
        else:
            _save_sqlite(run.pk, policy.pk, computed_at, customer_ids, scores)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {_table(CustomerScore)} WHERE {_col(CustomerScore, 'run')} <> %s",  # noqa: S608
                [run.pk],
            )
    return n


def _upsert_assignments() -> str:
    updated = ["run", "policy", *_SCORE_COLUMNS, "computed_at"]
    return ", ".join(f"{_col(CustomerScore, name)} = EXCLUDED.{_col(CustomerScore, name)}" for name in updated)


def _score_target_columns() -> str:
    names = ["customer", "run", "policy", *_SCORE_COLUMNS, "computed_at"]
    return ", ".join(_col(CustomerScore, name) for name in names)


def _save_postgresql(run_id: int, policy_id: int, computed_at: datetime, ids: np.ndarray, scores: ScoreArrays) -> None:
    stage_columns = [("customer_id", ">i8")] + [(name, ">f8") for name in _SCORE_COLUMNS]
    rows = np.empty(len(ids), dtype=_copy_row_dtype(stage_columns))
    rows["_nfields"] = len(stage_columns)
    for name, kind in stage_columns:
        rows[f"_len_{name}"] = np.dtype(kind).itemsize
        rows[name] = ids if name == "customer_id" else getattr(scores, name)
    data = memoryview(rows).cast("B")
    stage = _q(_STAGE_TABLE)
    stage_ddl = ", ".join(
        f"{_q(name)} {'bigint' if kind == '>i8' else 'double precision'} NOT NULL" for name, kind in stage_columns
    )
    copy_sql = f"COPY {stage} FROM STDIN (FORMAT binary)"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {stage} ({stage_ddl}) ON COMMIT DROP")
        with _logged(cursor, copy_sql), cursor.cursor.copy(copy_sql) as copy:
            copy.write(_COPY_HEADER)
            for start in range(0, len(data), _COPY_CHUNK_BYTES):
                copy.write(data[start : start + _COPY_CHUNK_BYTES])
            copy.write(_COPY_TRAILER)
        score_columns = ", ".join(_q(name) for name in _SCORE_COLUMNS)
        cursor.execute(
            f"INSERT INTO {_table(CustomerScore)} ({_score_target_columns()}) "  # noqa: S608
            f"SELECT {_q('customer_id')}, %s, %s, {score_columns}, %s FROM {stage} "
            f"ON CONFLICT ({_col(CustomerScore, 'customer')}) DO UPDATE SET {_upsert_assignments()}",
            [run_id, policy_id, computed_at],
        )
        # Dropped now, not only at commit, so a caller's outer transaction can run again.
        cursor.execute(f"DROP TABLE {stage}")


def _save_sqlite(run_id: int, policy_id: int, computed_at: datetime, ids: np.ndarray, scores: ScoreArrays) -> None:
    when = connection.ops.adapt_datetimefield_value(computed_at)
    columns = [ids.tolist()] + [getattr(scores, name).tolist() for name in _SCORE_COLUMNS]
    params = [(pk, run_id, policy_id, *values, when) for pk, *values in zip(*columns, strict=True)]
    placeholders = ", ".join(["%s"] * (len(_SCORE_COLUMNS) + 4))
    if not params:
        return
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {_table(CustomerScore)} ({_score_target_columns()}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({_col(CustomerScore, 'customer')}) DO UPDATE SET {_upsert_assignments()}",
            params,
        )
