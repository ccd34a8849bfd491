"""Batched writes: INSERT and insert-or-update of many rows.

Each statement's SQL is built once per (table, columns, conflict keys) and the rows go to the
driver's executemany as plain tuples through `exec_driver_sql` (psycopg pipelines them). Rows
must already hold what the column types would bind (money as exact text, see `money`): even a
per-value conversion here cost as much as the database's work. Going through
SQLAlchemy's per-row parameter processing cost more than the database's own work; multi-row
`VALUES` lists were slower still on PostgreSQL (each one parsed and planned anew). SQLite and
PostgreSQL both speak `INSERT ... ON CONFLICT ... DO UPDATE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    _write(connection, table, rows, ())


def upsert(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert rows, or update the `update` columns (default: all but the keys) of rows whose
    keys exist. Naming only the columns that can change matters: assigning an indexed column,
    even to its old value, rewrites its index entries."""
    _write(connection, table, rows, tuple(keys), tuple(update) if update is not None else None)


def _write(
    connection: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: tuple[str, ...],
    update: tuple[str, ...] | None = None,
) -> None:
    if not rows:
        return
    columns = tuple(rows[0])
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    sql = _statement(
        "?" if dialect.paramstyle == "qmark" else "%s",
        quote(table.name),
        tuple(quote(column) for column in columns),
        tuple(quote(key) for key in keys),
        tuple(quote(column) for column in update) if update is not None else None,
    )
    if len(columns) == 1:
        values = [(row[columns[0]],) for row in rows]
    else:
        values = list(map(itemgetter(*columns), rows))
    connection.exec_driver_sql(sql, values)


def money(value: Decimal | None) -> str | None:
    """A money value as an `ExactDecimal` column stores it."""
    return None if value is None else str(value)


@lru_cache(maxsize=256)
def _statement(
    marker: str,
    table: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    update: tuple[str, ...] | None,
) -> str:
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    )
    if keys:
        changing = update if update is not None else [c for c in columns if c not in keys]
        updates = ", ".join(f"{c} = excluded.{c}" for c in changing)
        sql += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    return sql
