"""One running bot per store: two processes writing one account's books would each send
orders the other does not know of. SQLite stores take an exclusive lock on a file next to the
database; PostgreSQL stores take a session advisory lock (released by the server if the
process dies, so a crash never leaves the store locked)."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from trading_bot.store.database import StoreError, safe_url

ADVISORY_KEY = 0x7472_6164_6562_6F74  # "tradebot"


class StoreLock:
    def __init__(self, holder: Any) -> None:
        self._holder = holder

    def release(self) -> None:
        self._holder.close()


def lock_store(engine: Engine) -> StoreLock:
    """Take the store for this process, or raise StoreError if another bot holds it."""
    busy = StoreError(
        f"another trading-bot is already running on the store {safe_url(str(engine.url))}; "
        "stop it first (one bot per store)"
    )
    if engine.dialect.name == "sqlite":
        path = Path(f"{engine.url.database}.lock")
        handle = path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise busy from None
        return StoreLock(handle)
    connection = engine.connect()
    connection.detach()  # its own session, never handed back to the pool while it holds the lock
    locked = connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY - (1 << 63)}
    ).scalar()
    connection.commit()
    if not locked:
        connection.close()
        raise busy
    return StoreLock(connection)
