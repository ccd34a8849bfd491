"""Column types that keep money exact on every backend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored as its exact text.

    SQLite has no decimal type (NUMERIC there is a float), and a PostgreSQL NUMERIC would need a
    fixed scale per column while token amounts carry up to 18 decimals: text round-trips every
    value exactly on both, and nothing here sorts or sums money in SQL.
    """

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"money columns take Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
