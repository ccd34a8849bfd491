"""Copies SQLite's write-ahead log back into the database from a thread of its own.

By default SQLite does this inside whichever commit pushes the log past 1,000 pages, so one
commit in a few hundred stalls the event loop for tens of milliseconds while the database
file is written and synced; every signal and order behind it waits. The running bot opens its
store with automatic checkpoints off (`open_engine(..., background_checkpoints=True)`) and
runs this instead: a PASSIVE checkpoint every `interval_s` on its own connection, which never
blocks the bot's writers or readers (the GIL is released while SQLite works), and a RESTART
one when the log has grown past `wal_limit_bytes` anyway (sustained writes).
"""

from __future__ import annotations

import sqlite3
import threading

from loguru import logger
from sqlalchemy import Engine

DEFAULT_INTERVAL_S = 1.0
DEFAULT_WAL_LIMIT_BYTES = 128 * 1024 * 1024
MAX_CATCH_UP = 20  # PASSIVE checkpoints in a row before a RESTART, at most
RESTART_BELOW_FRAMES = 2_000  # what a RESTART may have left to copy while writers wait


class WalCheckpointer:
    def __init__(
        self,
        engine: Engine,
        interval_s: float = DEFAULT_INTERVAL_S,
        wal_limit_bytes: int = DEFAULT_WAL_LIMIT_BYTES,
    ) -> None:
        database = engine.url.database
        if engine.url.get_backend_name() != "sqlite" or not database:
            raise ValueError("background checkpoints are for SQLite file stores")
        self._path = database
        self._interval_s = interval_s
        self._wal_limit_bytes = wal_limit_bytes
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
            log = self._checkpoint("PASSIVE")
            if log is not None and log[1] > self._wal_limit_bytes:
                self._restart_log(log[0])

    def _restart_log(self, left: int) -> None:
        """Under sustained writes the log is never started over by itself (SQLite does that
        when a writer finds it fully copied and no reader in it, which a busy bot rarely
        leaves time for), so it grows without end. A RESTART checkpoint starts it over, but
        makes the bot's writers wait while it copies what is left: so first let PASSIVE ones
        copy nearly all of it, then restart over the rest."""
        for _ in range(MAX_CATCH_UP):
            if left <= RESTART_BELOW_FRAMES or self._stop.is_set():
                break
            log = self._checkpoint("PASSIVE")
            if log is None:
                return
            left = log[0]
        self._checkpoint("RESTART")

    def _checkpoint(self, mode: str) -> tuple[int, int] | None:
        """Run one checkpoint: the log's frames it left uncopied and the log's size in bytes
        (its frames, not its file: the file keeps its size when the log starts over), or None
        if it failed."""
        try:
            with sqlite3.connect(self._path, timeout=30) as connection:
                _, log, copied = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
                (page_size,) = connection.execute("PRAGMA page_size").fetchone()
            connection.close()
        except sqlite3.Error as error:
            # the log only grows meanwhile; the next attempt (or the next start) folds it back
            self._failures += 1
            if self._failures == 1 or self._failures % 60 == 0:
                logger.warning("SQLite checkpoint failed ({} in a row): {}", self._failures, error)
            return None
        self._failures = 0
        return max(log - copied, 0), max(log, 0) * page_size
