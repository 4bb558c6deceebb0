"""SQL plumbing shared by the loaders: quoted names, epoch seconds, and result columns moved into arrays.

PostgreSQL moves data with binary COPY (fixed-width rows NumPy views directly);
SQLite, the embedded development database, takes a plain cursor path that gives
the same arrays. No formula here.
"""

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BigIntegerField, Case, Expression, FloatField, Func, IntegerField, Q, QuerySet, Value, When

SECONDS_PER_DAY = 86400.0
# PostgreSQL binary COPY framing: signature, int32 flags, int32 header-extension length.
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_COPY_HEADER = _COPY_SIGNATURE + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_COPY_CHUNK_BYTES = 4 << 20


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _table(model) -> str:
    return _q(model._meta.db_table)


def _col(model, field_name: str) -> str:
    return _q(model._meta.get_field(field_name).column)


def _copy_row_dtype(columns: Sequence[tuple[str, str]]) -> np.dtype:
    """One binary COPY row of non-NULL fixed-width fields: int16 count, then (int32 length, value) each."""
    spec = [("_nfields", ">i2")]
    for name, kind in columns:
        spec += [(f"_len_{name}", ">i4"), (name, kind)]
    return np.dtype(spec)


@contextmanager
def _logged(cursor, sql: str, params=None) -> Iterator[None]:
    # COPY bypasses Django's execute(); log it like one so query counts tell the truth.
    with cursor.debug_sql(sql, params) if hasattr(cursor, "debug_sql") else nullcontext():
        yield


_JIT_ALREADY_OFF: ContextVar[bool] = ContextVar("fieldwise_jit_already_off", default=False)


def _set_jit_off() -> None:
    # Measured at 1M customers: JIT compilation adds ~0.5 s to a load query and gains nothing.
    # SET LOCAL lasts until the transaction ends; outside one it would be a no-op.
    if connection.vendor == "postgresql" and connection.in_atomic_block and not _JIT_ALREADY_OFF.get():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")


@contextmanager
def jit_off_for_loads() -> Iterator[None]:
    """Several loads in a row: turn PostgreSQL's JIT off once for all of them, not once per COPY."""
    _set_jit_off()
    token = _JIT_ALREADY_OFF.set(connection.vendor == "postgresql" and connection.in_atomic_block)
    try:
        yield
    finally:
        _JIT_ALREADY_OFF.reset(token)


def _load_postgresql(sql: str, params: list, columns: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The rows of `sql` as column arrays through one binary COPY (every field non-NULL, fixed width)."""
    statement = f"COPY ({sql}) TO STDOUT (FORMAT binary)"
    _set_jit_off()
    buf = bytearray()
    with (
        connection.cursor() as cursor,
        _logged(cursor, statement, params),
        cursor.cursor.copy(statement, params) as copy,
    ):
        for chunk in copy:
            buf += chunk
    return _decode_binary_copy(buf, columns)


def _decode_binary_copy(buf: bytes | bytearray, columns: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Native-endian column arrays from a binary COPY stream whose fields are all non-NULL and fixed width."""
    if buf[: len(_COPY_SIGNATURE)] != _COPY_SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY stream")
    (extension,) = struct.unpack_from(">i", buf, len(_COPY_SIGNATURE) + 4)
    start = len(_COPY_HEADER) + extension
    dtype = _copy_row_dtype(columns)
    body = len(buf) - start - len(_COPY_TRAILER)
    if body % dtype.itemsize or buf[-2:] != _COPY_TRAILER:
        raise ValueError("binary COPY rows are not the expected fixed width (a NULL or a type change?)")
    rows = np.frombuffer(buf, dtype=dtype, offset=start, count=body // dtype.itemsize)
    for name, kind in columns:
        if (rows[f"_len_{name}"] != np.dtype(kind).itemsize).any():
            raise ValueError(f"binary COPY column {name} has NULLs or an unexpected width")
    if (rows["_nfields"] != len(columns)).any():
        raise ValueError("binary COPY rows have an unexpected field count")
    return {name: rows[name].astype(np.dtype(kind).newbyteorder("=")) for name, kind in columns}


def _load_cursor(sql: str, params: list, columns: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """The rows of `sql` as column arrays through a plain cursor: integer columns int64, the rest float64.

    The path of SQLite, and of small reads on PostgreSQL.

    A NULL in a float column becomes NaN; integer columns must not hold NULLs.
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = {}
    for i, (name, kind) in enumerate(columns):
        dtype = np.int64 if np.dtype(kind).kind in "iu" else np.float64
        out[name] = np.fromiter((row[i] for row in rows), dtype=dtype, count=len(rows))
    return out


def load_columns(
    sql: str, params: list, columns: Sequence[tuple[str, str]], *, bulk: bool = True
) -> dict[str, np.ndarray]:
    """The rows of one statement as column arrays in one query, whatever the database.

    On PostgreSQL every column must be non-NULL and of the fixed-width binary type
    given in `columns` (cast in the SQL; COALESCE floats to 'NaN'). `bulk=False`
    (a handful of rows: one customer's visits) reads through a plain cursor instead
    of COPY, which saves the JIT setting's round trip.
    """
    if bulk and connection.vendor == "postgresql":
        return _load_postgresql(sql, params, columns)
    return _load_cursor(sql, params, columns)


class _EpochSeconds(Func):
    """A datetime as float epoch seconds (NULL stays NULL): NumPy takes floats, not 100,000 datetimes."""

    arity = 1
    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::float8", **extra_context
        )

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


def epoch_column(field: str) -> Func:
    """A datetime column as float epoch seconds, NaN where NULL."""
    return _Float(_EpochSeconds(field))


def float_column(field: str | Expression) -> Func:
    return _Float(field)


def int_column(field: str | Expression) -> Func:
    return _Int(field)


def flag_column(condition: Q) -> Func:
    """1 where `condition` holds, else 0 (PostgreSQL will not cast a boolean to int8)."""
    return _Int(Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField()))


def load_queryset_columns(
    queryset: QuerySet, columns: dict[str, tuple[Expression, str]], *, bulk: bool = True
) -> dict[str, np.ndarray]:
    """`queryset`'s rows as column arrays in one query: {name: (expression, PostgreSQL binary type)}.

    The ORM writes the SQL (filters, joins, subqueries); the rows then travel by
    binary COPY on PostgreSQL. Every expression must be an `int_column`,
    `flag_column`, `float_column` or `epoch_column` so the types and NULLs match `columns`.
    """
    # Aliases of our own: a column may be named like a model field (`owner_id`).
    aliases = {f"_col{i}": name for i, name in enumerate(columns)}
    rows = queryset.values(**{alias: columns[name][0] for alias, name in aliases.items()})
    query = rows.query
    if query.values_select or list(query.annotation_select) != list(aliases) or query.extra_select:
        raise ValueError("the query would not select exactly the requested columns, in order")
    kinds = [(alias, columns[name][1]) for alias, name in aliases.items()]
    try:
        sql, params = query.sql_with_params()
    except EmptyResultSet:  # e.g. `pk__in=[]`: the ORM knows there are no rows without asking
        loaded = {alias: np.empty(0, dtype=np.dtype(kind).newbyteorder("=")) for alias, kind in kinds}
    else:
        loaded = load_columns(sql, list(params), kinds, bulk=bulk)
    return {name: loaded[alias] for alias, name in aliases.items()}
