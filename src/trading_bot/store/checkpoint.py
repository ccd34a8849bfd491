"""Copies SQLite's write-ahead log back into the database from a thread of its own.

By default SQLite does this inside whichever commit pushes the log past 1,000 pages, so one
commit in a few hundred stalls the event loop for tens of milliseconds while the database
file is written and synced; every signal and order behind it waits. The running bot opens its
store with automatic checkpoints off (`open_engine(..., background_checkpoints=True)`) and
runs this instead: a PASSIVE checkpoint every `interval_s` on its own connection, which never
blocks the bot's writers or readers (the GIL is released while SQLite works).
"""

from __future__ import annotations

import sqlite3
import threading

from loguru import logger
from sqlalchemy import Engine

DEFAULT_INTERVAL_S = 1.0


class WalCheckpointer:
    def __init__(self, engine: Engine, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        database = engine.url.database
        if engine.url.get_backend_name() != "sqlite" or not database:
            raise ValueError("background checkpoints are for SQLite file stores")
        self._path = database
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then fold the whole log back (the next start opens a short one)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._checkpoint("TRUNCATE")

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._checkpoint("PASSIVE")

    def _checkpoint(self, mode: str) -> None:
        try:
            with sqlite3.connect(self._path, timeout=30) as connection:
                connection.execute(f"PRAGMA wal_checkpoint({mode})")
            connection.close()
        except sqlite3.Error as error:
            # the log only grows meanwhile; the next attempt (or the next start) folds it back
            self._failures += 1
            if self._failures == 1 or self._failures % 60 == 0:
                logger.warning("SQLite checkpoint failed ({} in a row): {}", self._failures, error)
            return
        self._failures = 0
