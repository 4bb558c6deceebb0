"""SQL plumbing shared by the loaders: quoted names, and result columns moved into arrays.

PostgreSQL moves data with binary COPY (fixed-width values NumPy views directly:
rows, or rows packed into arrays, `analytics.bridge.packed`); SQLite, the
embedded development database, takes a plain cursor path that gives the same
arrays. The column expressions are in `analytics.bridge.expressions`. No formula here.
"""

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Expression, QuerySet

from analytics.bridge.expressions import _Epoch, _epoch_seconds
from analytics.bridge.packed import decode_packed_row, packed_statement

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


def _load_postgresql(
    sql: str, params: list, columns: Sequence[tuple[str, str]], *, packed: bool
) -> dict[str, np.ndarray]:
    """The rows of `sql` as column arrays through one binary COPY (every field non-NULL, fixed width).

    `packed`: the rows travel as one row of arrays (see `analytics.bridge.packed`).
    """
    names = [name for name, _ in columns]
    statement = packed_statement(sql, names) if packed else f"COPY ({sql}) TO STDOUT (FORMAT binary)"
    buf = bytearray()
    with (
        connection.cursor() as cursor,
        _logged(cursor, statement, params),
        cursor.cursor.copy(statement, params) as copy,
    ):
        for chunk in copy:
            buf += chunk
    if packed:
        return decode_packed_row(buf, _copy_body_start(buf), columns)
    return _decode_binary_copy(buf, columns)


def _copy_body_start(buf: bytes | bytearray) -> int:
    """Where the first row of a binary COPY stream begins, after its header."""
    if buf[: len(_COPY_SIGNATURE)] != _COPY_SIGNATURE:
        raise ValueError("not a PostgreSQL binary COPY stream")
    (extension,) = struct.unpack_from(">i", buf, len(_COPY_SIGNATURE) + 4)
    return len(_COPY_HEADER) + extension


def _decode_binary_copy(buf: bytes | bytearray, columns: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Native-endian column arrays from a binary COPY stream whose fields are all non-NULL and fixed width."""
    start = _copy_body_start(buf)
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
    sql: str, params: list, columns: Sequence[tuple[str, str]], *, bulk: bool = True, packed: bool = False
) -> dict[str, np.ndarray]:
    """The rows of one statement as column arrays in one query, whatever the database.

    On PostgreSQL every column must be non-NULL and of the fixed-width binary type
    given in `columns` (cast in the SQL; COALESCE floats to 'NaN'). `bulk=False`
    (a handful of rows: one customer's visits) reads through a plain cursor instead
    of COPY, which saves the JIT setting's round trip. `packed` (PostgreSQL, bulk):
    the rows travel packed in arrays, for loads of a bounded size (`analytics.bridge.packed`).
    """
    if bulk and connection.vendor == "postgresql":
        return _load_postgresql(sql, params, columns, packed=packed)
    return _load_cursor(sql, params, columns)


def load_queryset_columns(
    queryset: QuerySet | Sequence[QuerySet],
    columns: dict[str, tuple[Expression, str]],
    *,
    bulk: bool = True,
    packed: bool = False,
) -> dict[str, np.ndarray]:
    """`queryset`'s rows as column arrays in one query: {name: (expression, PostgreSQL binary type)}.

    The ORM writes the SQL (filters, joins, subqueries); on PostgreSQL the rows then
    travel by binary COPY, `packed` in arrays when the load is bounded (one team's
    data: see `analytics.bridge.packed`). Every expression must be an `int_column`,
    `flag_column`, `float_column` or `epoch_column` so the types and NULLs match
    `columns`. Several unordered querysets (of any models) load as one UNION ALL,
    rows in the order given.
    """
    # Aliases of our own: a column may be named like a model field (`owner_id`).
    aliases = {f"_col{i}": name for i, name in enumerate(columns)}
    copied = bulk and connection.vendor == "postgresql"
    # Through COPY, timestamps travel as themselves (int8 microseconds) and become epoch seconds below.
    timestamps = {alias for alias, name in aliases.items() if copied and isinstance(columns[name][0], _Epoch)}
    expressions, kinds = {}, []
    for alias, name in aliases.items():
        expression, kind = columns[name]
        if isinstance(expression, _Epoch) and alias not in timestamps:
            expression = expression.as_seconds()
        expressions[alias] = expression
        kinds.append((alias, ">i8" if alias in timestamps else kind))
    statement = _union_all([queryset] if isinstance(queryset, QuerySet) else list(queryset), expressions)
    if statement is None:
        return {name: np.empty(0, dtype=np.dtype(kind).newbyteorder("=")) for name, (_, kind) in columns.items()}
    loaded = load_columns(*statement, kinds, bulk=bulk, packed=packed)
    return {
        name: _epoch_seconds(loaded[alias]) if alias in timestamps else loaded[alias] for alias, name in aliases.items()
    }


def _union_all(querysets: list[QuerySet], expressions: dict[str, Expression]) -> tuple[str, list] | None:
    """The SQL and parameters selecting `expressions` (by alias) from every queryset; None when none has rows."""
    if len(querysets) > 1 and any(queryset.query.order_by for queryset in querysets):
        raise ValueError("querysets loaded together (UNION ALL) must be unordered: call order_by() first")
    statements, params = [], []
    for queryset in querysets:
        query = queryset.values(**expressions).query
        if query.values_select or list(query.annotation_select) != list(expressions) or query.extra_select:
            raise ValueError("the query would not select exactly the requested columns, in order")
        try:
            sql, query_params = query.sql_with_params()
        except EmptyResultSet:  # e.g. `pk__in=[]`: the ORM knows there are no rows without asking
            continue
        statements.append(sql)
        params += query_params
    return (" UNION ALL ".join(statements), params) if statements else None
