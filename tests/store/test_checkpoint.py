"""Background WAL checkpoints: the running bot's commits never fold the log back themselves
(that stalled the event loop); a thread does, and leaves no log behind at stop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from trading_bot.store.checkpoint import WalCheckpointer
from trading_bot.store.database import open_engine


def _write_pages(engine: Engine, rows: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS t (v TEXT)"))
        for _ in range(rows // 100):
            connection.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 500}] * 100)


def test_commits_leave_the_log_to_the_checkpointer_which_folds_it_back(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    engine = open_engine(f"sqlite:///{path}", background_checkpoints=True)
    _write_pages(engine, 20_000)  # ~2,500 pages: past SQLite's own 1,000-page threshold
    wal = Path(f"{path}-wal")
    assert wal.stat().st_size > 4_000_000
    assert path.stat().st_size < 1_000_000  # nothing was folded back by the commit
    checkpointer = WalCheckpointer(engine, interval_s=0.05)
    checkpointer.start()
    deadline = time.monotonic() + 10
    while path.stat().st_size < 4_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > 4_000_000  # the rows reached the database file
    _write_pages(engine, 1_000)  # the bot keeps writing meanwhile
    checkpointer.stop()
    assert wal.stat().st_size == 0
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 21_000
    engine.dispose()


def test_other_engines_keep_sqlite_checkpointing_by_itself(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    engine = open_engine(f"sqlite:///{path}")
    _write_pages(engine, 20_000)
    assert path.stat().st_size > 4_000_000  # folded back by the commit itself
    engine.dispose()


def test_only_sqlite_file_stores_take_a_checkpointer() -> None:
    engine = open_engine("postgresql://localhost/none")
    with pytest.raises(ValueError, match="SQLite"):
        WalCheckpointer(engine)


def test_the_log_stays_bounded_while_the_bot_never_stops_writing(tmp_path: Path) -> None:
    # Under sustained load a PASSIVE checkpoint never catches up (frames keep arriving while it
    # copies), so SQLite never starts the log over: these 20,000 commits grow it to ~160 MB.
    # With the log started over past 1 MB it stays a few MB; on a loaded machine the thread
    # gets its turn late and it reached ~30 MB, hence the generous bound.
    path = tmp_path / "store.sqlite"
    engine = open_engine(f"sqlite:///{path}", background_checkpoints=True)
    _write_pages(engine, 100)
    checkpointer = WalCheckpointer(engine, interval_s=0.02, wal_limit_bytes=1_000_000)
    checkpointer.start()
    wal = Path(f"{path}-wal")
    largest = 0
    with engine.connect() as connection:
        for _ in range(20_000):  # small commits back to back, as the journal's
            with connection.begin():
                connection.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 500}] * 5)
            largest = max(largest, wal.stat().st_size)
    checkpointer.stop()
    engine.dispose()
    assert largest < 54_000_000  # a third of what the same commits leave without restarts
