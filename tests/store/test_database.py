"""How SQLite stores are opened: small pages for a new file (fewer log bytes per commit), and
a file made with other settings still opens as it is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from trading_bot.store.database import open_engine, upgrade_to_head


def test_a_new_store_uses_small_pages_and_a_write_ahead_log(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'new.sqlite'}")
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA page_size")).scalar() == 1024
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_a_store_made_with_larger_pages_keeps_them_and_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as raw:  # as an earlier version made it
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE kept (v TEXT)")
        raw.execute("INSERT INTO kept VALUES ('x')")
    raw.close()
    engine = open_engine(f"sqlite:///{path}")
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA page_size")).scalar() == 4096
        assert connection.execute(text("SELECT v FROM kept")).scalar() == "x"
    engine.dispose()
