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

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError


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


def update_rows(
    connection: Connection,
    table: Table,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    values: Sequence[tuple[Any, ...]],
) -> bool:
    """`UPDATE table SET columns WHERE keys` for rows known to exist, each a tuple of the
    column values then the key values (cheaper than an upsert: no insert attempt, and only the
    changing values are built). False if some row was not there, so the caller can fall back
    to an upsert instead of losing the change."""
    if not values:
        return True
    sql = _update_statement(connection.dialect, table.name, columns, keys)
    return _execute(connection, sql, values) == len(values)


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
    sql = _statement(connection.dialect, table.name, columns, keys, update)
    if len(columns) == 1:
        values = [(row[columns[0]],) for row in rows]
    else:
        values = list(map(itemgetter(*columns), rows))
    _execute(connection, sql, values)


def _execute(connection: Connection, sql: str, values: Sequence[tuple[Any, ...]]) -> int:
    """Straight to the driver's cursor, inside the connection's open transaction: SQLAlchemy's
    execution context cost ~30 µs a statement, as much as SQLite's own work for a small
    batch. Driver errors are re-raised as SQLAlchemy's, which the journal's retry expects.
    Returns the rows changed."""
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, values)
        return int(cursor.rowcount)
    except connection.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(
            sql, None, error, connection.dialect.loaded_dbapi.Error, dialect=connection.dialect
        ) from error
    finally:
        cursor.close()


def money(value: Decimal | None) -> str | None:
    """A money value as an `ExactDecimal` column stores it."""
    return None if value is None else str(value)


@lru_cache(maxsize=256)
def _statement(
    dialect: Dialect,
    table: str,
    columns: tuple[str, ...],
    keys: tuple[str, ...],
    update: tuple[str, ...] | None,
) -> str:
    """The SQL for one (table, columns, keys) shape, quoted for `dialect`; cached on the raw
    names, so a write pays for no quoting (a batch of small commits did, column by column)."""
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    names = [quote(column) for column in columns]
    sql = f"INSERT INTO {quote(table)} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})"
    if keys:
        changing = update if update is not None else tuple(c for c in columns if c not in keys)
        updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in changing)
        sql += f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET {updates}"
    return sql


@lru_cache(maxsize=64)
def _update_statement(
    dialect: Dialect, table: str, columns: tuple[str, ...], keys: tuple[str, ...]
) -> str:
    quote = dialect.identifier_preparer.quote
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{quote(c)} = {marker}" for c in columns)
    where = " AND ".join(f"{quote(k)} = {marker}" for k in keys)
    return f"UPDATE {quote(table)} SET {assignments} WHERE {where}"
