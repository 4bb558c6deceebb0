"""The column expressions of the loads: what each value becomes on its way into an array.

`load_queryset_columns` (in `analytics.bridge.columns`) selects them. Each renders
for PostgreSQL (binary COPY: fixed-width, never NULL) and for SQLite (a plain
cursor: NULL read as NaN). No formula here.
"""

import json
from collections.abc import Sequence

import numpy as np
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Case,
    DateTimeField,
    Expression,
    F,
    FloatField,
    Func,
    IntegerField,
    Q,
    Value,
    When,
)

SECONDS_PER_DAY = 86400.0


class _EpochSeconds(Func):
    """A datetime as float epoch seconds (NULL stays NULL): NumPy takes floats, not 100,000 datetimes."""

    arity = 1
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        # date_part computes in float8; EXTRACT returns numeric (PostgreSQL 14+), whose cast back to
        # float8 costs a text round trip per value. Same result: both are the microseconds since 1970
        # divided by 10**6, correctly rounded (up to the year 2255, past which float8 loses microseconds).
        return self.as_sql(compiler, connection, template="date_part('epoch', %(expressions)s)", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=f"((julianday(%(expressions)s) - 2440587.5) * {SECONDS_PER_DAY})",
            **extra_context,
        )


class _Float(Func):
    """A number as float64: NaN instead of NULL on PostgreSQL, so every COPY row has the same width."""

    arity = 1
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        template = "COALESCE((%(expressions)s)::float8, 'NaN'::float8)"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # A NULL stays NULL: the cursor path reads it as NaN.
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS REAL)", **extra_context)


class _Int(Func):
    """An integer (id, count, flag) as int64; the column must not be NULL."""

    arity = 1
    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="(%(expressions)s)::int8", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="CAST(%(expressions)s AS INTEGER)", **extra_context)


class _Epoch(Func):
    """A datetime column loaded as float epoch seconds, NaN where NULL, by `load_queryset_columns`.

    Through COPY, PostgreSQL sends the timestamp itself (binary: int8 microseconds
    since 2000-01-01), NULL as 'infinity', and NumPy converts it (`_epoch_seconds`):
    the float date_part('epoch', ...) gives, without a function call per value on
    the server (five per visit, a sixth of the dashboard's visit load). The cursor
    paths (SQLite, small reads) select the seconds (`as_seconds`).
    """

    arity = 1
    output_field = DateTimeField()

    def as_sql(self, compiler, connection, **extra_context):
        template = "COALESCE(%(expressions)s, 'infinity'::timestamptz)"
        return super().as_sql(compiler, connection, template=template, **extra_context)

    def as_seconds(self) -> Func:
        return _Float(_EpochSeconds(*self.get_source_expressions()))


# PostgreSQL timestamps count microseconds from 2000-01-01 UTC; 'infinity' is the largest int8.
_POSTGRES_EPOCH_MICROSECONDS = 946_684_800_000_000
_POSTGRES_INFINITY = np.iinfo(np.int64).max


def _epoch_seconds(microseconds: np.ndarray) -> np.ndarray:
    """PostgreSQL timestamps as epoch seconds, NaN for 'infinity' (NULL).

    Exactly date_part('epoch', ...): the microseconds since 1970 are exact in a
    float64 (until the year 2255), and one division by 10**6 rounds correctly.
    """
    seconds = (microseconds + _POSTGRES_EPOCH_MICROSECONDS).astype(np.float64) / 1e6
    return np.where(microseconds == _POSTGRES_INFINITY, np.nan, seconds)


def epoch_column(field: str) -> Func:
    """A datetime column as float epoch seconds, NaN where NULL (for `load_queryset_columns` only)."""
    return _Epoch(field)


def float_column(field: str | Expression) -> Func:
    return _Float(field)


def int_column(field: str | Expression) -> Func:
    return _Int(field)


def flag_column(condition: Q) -> Func:
    """1 where `condition` holds, else 0 (PostgreSQL will not cast a boolean to int8)."""
    return _Int(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


class IdIn(Expression):
    """`field IN ids` with the ids as one parameter, for `QuerySet.filter`: an id list thousands long.

    PostgreSQL gets one array literal, unnested (its row count is known to the
    planner, which estimates `= ANY(array)` element by element: 10 ms of planning
    for 16,000 ids), not thousands of placeholders to build and parse; SQLite reads
    a JSON list (`json_each`), which no variable limit caps.
    """

    output_field = BooleanField()

    def __init__(self, field: str, ids: Sequence[int]):
        super().__init__()
        self.column = F(field)
        self.ids = [int(pk) for pk in ids]

    def get_source_expressions(self) -> list:
        return [self.column]

    def set_source_expressions(self, exprs) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        # The column is compiled SQL, the ids one bound parameter.
        return f"{sql} IN (SELECT value FROM json_each(%s))", (*params, json.dumps(self.ids))  # noqa: S608

    def as_postgresql(self, compiler, connection):
        sql, params = compiler.compile(self.column)
        # An array literal built here: psycopg would adapt a list of 16,000 ints one element at a time.
        literal = "{" + ",".join(map(str, self.ids)) + "}"
        return f"{sql} IN (SELECT unnest(%s::int8[]))", (*params, literal)  # noqa: S608
