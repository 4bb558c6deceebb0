"""Rows packed into one array per column: the PostgreSQL transport of the dashboard's loads.

A binary COPY sends one protocol message per row, and psycopg spends ~0.4 µs of
Python on each: 80 ms of the dashboard's 177,000 visits, more than the bytes
themselves. Packed, the same rows leave PostgreSQL as a single COPY row holding
one `array_agg` per column; NumPy views each array in place. The server pays
~20 ns more per value (building the arrays) and holds them in memory until sent
(~25 bytes a value: 550 MB for everybody's visits at 100,000 customers), so only
a team's loads are packed; everybody's travel as plain COPY rows.

Row order is the statement's: the arrays are aggregated over it as a subquery,
and PostgreSQL plans a subquery with ORDER BY without parallel (partial) paths,
so one process feeds the aggregates the rows in order.
"""

import struct
from collections.abc import Sequence

import numpy as np
from django.db import connection

# PostgreSQL binary array: int32 dimensions, int32 flags, int32 element type oid,
# then (int32 length, int32 lower bound) per dimension, then (int32 length, value) per element.
_ARRAY_HEADER = struct.Struct(">iii")
_DIMENSION = struct.Struct(">ii")


def packed_statement(sql: str, names: Sequence[str]) -> str:
    """A COPY of `sql`'s rows as one row of arrays, one per column (`names`, the columns' aliases)."""
    aggregates = ", ".join(f"array_agg({connection.ops.quote_name(name)})" for name in names)
    # `sql` is the ORM's compiled statement (its values are bound parameters), the names quoted aliases.
    return f"COPY (SELECT {aggregates} FROM ({sql}) AS rows) TO STDOUT (FORMAT binary)"  # noqa: S608


def decode_packed_row(buf: bytes | bytearray, at: int, columns: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Native-endian column arrays from the one row (at offset `at` of a binary COPY) of a `packed_statement`.

    Every element must be non-NULL and of the fixed-width binary type given in `columns`.
    """
    (n_fields,) = struct.unpack_from(">h", buf, at)
    if n_fields != len(columns):
        raise ValueError(f"packed COPY row has {n_fields} fields, expected {len(columns)}")
    at += 2
    out = {}
    for name, kind in columns:
        (length,) = struct.unpack_from(">i", buf, at)
        at += 4
        dtype = np.dtype(kind)
        if length < 0:  # array_agg over no rows is NULL
            out[name] = np.empty(0, dtype=dtype.newbyteorder("="))
            continue
        dimensions, has_nulls, _element_type = _ARRAY_HEADER.unpack_from(buf, at)
        if dimensions > 1 or has_nulls:
            raise ValueError(f"packed COPY column {name} has NULLs or is not a flat array")
        count = _DIMENSION.unpack_from(buf, at + _ARRAY_HEADER.size)[0] if dimensions else 0
        start = at + _ARRAY_HEADER.size + dimensions * _DIMENSION.size
        elements = np.frombuffer(buf, dtype=[("length", ">i4"), ("value", dtype)], count=count, offset=start)
        if (elements["length"] != dtype.itemsize).any() or start + elements.nbytes != at + length:
            raise ValueError(f"packed COPY column {name} is not of the expected fixed width")
        out[name] = elements["value"].astype(dtype.newbyteorder("="))
        at += length
    return out
