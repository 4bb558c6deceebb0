"""Set-based writes of generated columns, bypassing model instances (too slow at 10^6 rows).

SQLite: `executemany` on the raw sqlite3 cursor. PostgreSQL: psycopg 3 `COPY ... FROM
STDIN`. Table and column names come from the models' `_meta`; primary keys are
reserved up front so child rows can point at their parents before anything is written.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from django.db import connection as default_connection
from django.db.models import Model

SQLITE_CACHE_KIB = 131_072  # a large page cache keeps index inserts in memory
BATCH_ROWS = 100_000  # rows turned into Python objects at a time


class BulkWriter:
    """Inserts column arrays into a model's table on the default connection.

    Use as a context manager around a seeding run; call `reserve_ids` and `insert`
    inside a transaction (on PostgreSQL ids are reserved under a table lock).
    """

    def __init__(self, *, connection=default_connection):
        if connection.vendor not in {"sqlite", "postgresql"}:
            raise NotImplementedError(f"Demo seeding supports SQLite and PostgreSQL, not {connection.vendor}.")
        self.connection = connection
        self.vendor = connection.vendor
        self._sequences: dict[str, str] = {}
        self._cache_size = None
        self.counts: dict[str, int] = {}  # rows written per model label

    def __enter__(self) -> "BulkWriter":
        self.connection.ensure_connection()
        if self.vendor == "sqlite":
            raw = self.connection.connection
            self._cache_size = raw.execute("PRAGMA cache_size").fetchone()[0]
            raw.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
        return self

    def __exit__(self, *exc_info) -> None:
        if self.vendor == "sqlite" and self._cache_size is not None and self.connection.connection is not None:
            self.connection.connection.execute(f"PRAGMA cache_size = {int(self._cache_size)}")

    def tune_transaction(self) -> None:
        """Settings for the current (bulk-loading) transaction on PostgreSQL.

        Not waiting for the WAL flush at commit loses nothing but the last seconds of
        work on a server crash; more sort memory speeds up the index rebuilds.
        """
        if self.vendor == "postgresql":
            with self.connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
                cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")

    @contextmanager
    def deferred_indexes_and_keys(self, models: Sequence[type[Model]]) -> Iterator[None]:
        """Drop the plain (non-unique) indexes of `models`, and on PostgreSQL their foreign keys; restore on exit.

        One sorted build per index is several times cheaper than inserting a million
        rows into it one by one; re-adding a foreign key checks it with one join instead
        of a trigger per row. Unique indexes and check constraints stay in force. Only
        inside a transaction, before anything is written to these tables: DDL is
        transactional on SQLite and PostgreSQL, so a failed load rolls the drops back too.
        """
        if not self.connection.in_atomic_block:
            raise RuntimeError("deferred_indexes_and_keys() must run inside transaction.atomic().")
        quote = self.connection.ops.quote_name
        indexes, keys = [], []
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                # A table with deferred key checks still pending cannot be altered: run them now.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            for model in models:
                for name, definition in self._plain_indexes(cursor, model):
                    cursor.execute(f"DROP INDEX {quote(name)}")
                    indexes.append(definition)
                for name, definition in self._foreign_keys(cursor, model):
                    cursor.execute(f"ALTER TABLE {self._table(model)} DROP CONSTRAINT {quote(name)}")
                    keys.append(f"ALTER TABLE {self._table(model)} ADD CONSTRAINT {quote(name)} {definition}")
        yield
        with self.connection.cursor() as cursor:
            for statement in indexes + keys:
                cursor.execute(statement)
            if self.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # back to Django's INITIALLY DEFERRED

    def _plain_indexes(self, cursor, model: type[Model]) -> list[tuple[str, str]]:
        """(name, CREATE INDEX statement) of the indexes of a table that enforce nothing."""
        if self.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
                " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%' ORDER BY name",
                [model._meta.db_table],
            )
        else:
            cursor.execute(
                "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = %s::regclass AND NOT i.indisunique AND NOT i.indisprimary"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
                " ORDER BY c.relname",
                [self._table(model)],
            )
        return cursor.fetchall()

    def _foreign_keys(self, cursor, model: type[Model]) -> list[tuple[str, str]]:
        """(name, definition) of a table's foreign keys on PostgreSQL; SQLite checks them cheaply, keep them."""
        if self.vendor == "sqlite":
            return []
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [self._table(model)],
        )
        return cursor.fetchall()

    def _table(self, model: type[Model]) -> str:
        return self.connection.ops.quote_name(model._meta.db_table)

    def reserve_ids(self, model: type[Model], count: int) -> np.ndarray:
        """`count` fresh primary keys for `model`, as an int64 array (contiguous)."""
        if count == 0:
            return np.empty(0, dtype=np.int64)
        table = self._table(model)
        pk = self.connection.ops.quote_name(model._meta.pk.column)
        with self.connection.cursor() as cursor:
            if self.vendor == "sqlite":
                # AUTOINCREMENT never reuses ids of deleted rows; neither do we.
                cursor.execute(
                    f"SELECT MAX(COALESCE((SELECT MAX({pk}) FROM {table}), 0),"  # noqa: S608
                    " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0))",
                    [model._meta.db_table],
                )
                first = cursor.fetchone()[0] + 1
            else:
                sequence = self._sequence(model)
                # Inserts take ROW EXCLUSIVE before drawing from the sequence, so under this
                # lock nobody else can draw ids from it until our transaction ends.
                cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
                cursor.execute("SELECT nextval(%s)", [sequence])
                first = cursor.fetchone()[0]
                cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
        return np.arange(first, first + count, dtype=np.int64)

    def _sequence(self, model: type[Model]) -> str:
        table = model._meta.db_table
        if table not in self._sequences:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [self._table(model), model._meta.pk.column])
                self._sequences[table] = cursor.fetchone()[0]
        return self._sequences[table]

    def timestamps(self, epoch: np.ndarray, present: np.ndarray | None = None) -> "Column":
        """A datetime column from UTC epoch seconds (NULL where `present` is False)."""
        return Column(np.asarray(epoch, dtype=np.int64), present, timestamp=True)

    def _timestamp_text(self, epoch: np.ndarray) -> np.ndarray:
        """The text each backend stores for an aware datetime: Django's `str(naive UTC datetime)`
        on SQLite (its string order is time order), with an explicit UTC offset on PostgreSQL."""
        text = np.ascontiguousarray(np.datetime_as_string(epoch.astype("datetime64[s]"), unit="s").astype("U19"))
        text.view(np.uint32).reshape(-1, 19)[:, 10] = ord(" ")
        return np.strings.add(text, "+00") if self.vendor == "postgresql" else text

    def _python_values(self, column, start: int, stop: int) -> list:
        """Rows start..stop of a column as Python values, built one batch at a time to bound memory."""
        if not isinstance(column, Column):
            return np.asarray(column)[start:stop].tolist()
        values = column.values[start:stop]
        if column.timestamp:
            values = self._timestamp_text(values)
        if column.present is None:
            return values.tolist()
        values = values.astype(object)
        values[~column.present[start:stop]] = None
        return values.tolist()

    def insert(self, model: type[Model], columns: dict[str, "np.ndarray | Column"]) -> int:
        """Write rows given as {field name: column}; returns the number of rows."""
        names = [self.connection.ops.quote_name(model._meta.get_field(name).column) for name in columns]
        count = len(next(iter(columns.values())))
        if count == 0:
            return 0
        table = self._table(model)
        raw = self.connection.connection
        batches = (
            zip(*(self._python_values(column, start, start + BATCH_ROWS) for column in columns.values()), strict=True)
            for start in range(0, count, BATCH_ROWS)
        )
        if self.vendor == "sqlite":
            placeholders = ", ".join("?" * len(names))
            sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"  # noqa: S608 (names from _meta)
            cursor = raw.cursor()
            try:
                for rows in batches:
                    cursor.executemany(sql, rows)
            finally:
                cursor.close()
        else:
            with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                for rows in batches:
                    for row in rows:
                        copy.write_row(row)
        self.counts[model._meta.label] = self.counts.get(model._meta.label, 0) + count
        return count


@dataclass(frozen=True)
class Column:
    """Column values kept as an array until written; `present` False means NULL."""

    values: np.ndarray
    present: np.ndarray | None = None
    timestamp: bool = False  # values are UTC epoch seconds

    def __len__(self) -> int:
        return len(self.values)


def nullable(values: np.ndarray, present: np.ndarray | None) -> Column:
    """A column with NULL where `present` is False."""
    return Column(np.asarray(values), present)
