"""HeldConnection: one database connection kept open by a writer that commits many times a
second (the journal, the paper venue's books).

Taking a connection from the pool and giving it back (a rollback on return) cost about as
much Python work as a small commit itself. A connection that failed is dropped, so the next
transaction starts on a fresh one (a restarted PostgreSQL, say).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError


class HeldConnection:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction on the held connection: committed if the block ends normally,
        rolled back (and the connection dropped) if it raises."""
        connection = self._connection
        if connection is None:
            connection = self._connection = self._engine.connect()
        try:
            with connection.begin():
                yield connection
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(SQLAlchemyError):  # a dead connection cannot be closed cleanly
                connection.close()
