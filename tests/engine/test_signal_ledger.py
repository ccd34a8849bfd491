"""What the ledger keeps in memory: a backtest keeps every duplicate and dead letter (its
summary lists them); a bot with a store keeps the latest only, and counts them all."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.service.rig import store
from trading_bot.engine.clock import SimulatedClock
from trading_bot.engine.signal_ledger import RECENT_REJECTS_KEPT, InvalidSignal, SignalLedger
from trading_bot.store.journal import StoreJournal


def flood(ledger: SignalLedger, count: int) -> None:
    for i in range(count):
        ledger.dead_letter(InvalidSignal(f"webhook:{i}", ("not JSON",), "x" * 1000), i)
        ledger.duplicate(("det", f"s{i}"), i)


def test_a_bot_with_a_store_keeps_only_the_latest_rejects_in_memory_and_counts_all(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    journal = StoreJournal(engine, SimulatedClock(0))
    ledger = SignalLedger(journal)
    flood(ledger, RECENT_REJECTS_KEPT + 500)
    journal.flush()
    assert len(ledger.invalid) == len(ledger.duplicates) == RECENT_REJECTS_KEPT
    assert ledger.invalid[-1].location == f"webhook:{RECENT_REJECTS_KEPT + 499}"
    counts = ledger.rejection_counts()
    assert counts["invalid_signal"] == counts["duplicate"] == RECENT_REJECTS_KEPT + 500
    with engine.connect() as connection:  # the store keeps every one
        assert connection.execute(text("SELECT count(*) FROM dead_letters")).scalar() == 1500
        assert connection.execute(text("SELECT count(*) FROM duplicate_signals")).scalar() == 1500
    journal.close()


def test_a_backtest_keeps_every_reject() -> None:
    ledger = SignalLedger()
    flood(ledger, RECENT_REJECTS_KEPT + 10)
    assert len(ledger.invalid) == len(ledger.duplicates) == RECENT_REJECTS_KEPT + 10
    assert ledger.rejection_counts()["invalid_signal"] == RECENT_REJECTS_KEPT + 10
