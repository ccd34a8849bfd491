from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from tests.conftest import T0, make_signal
from tests.service.rig import start, store
from trading_bot.engine.clock import SimulatedClock
from trading_bot.monitoring.attribution import build_report


def test_books_agree_while_the_venue_is_ahead_of_the_bot_and_not_when_corrupted(
    tmp_path: Path,
) -> None:
    engine = store(tmp_path)
    clock = SimulatedClock(T0 + 1)
    running = start(engine, clock)
    running.bot.kernel.submit_signal(
        make_signal(asset="BTC/USDT", size="0.5", strategy="s", source="src", price="99")
    )
    running.journal.flush()  # intent committed, order sent
    clock.advance_to(T0 + 1)  # the venue fills and commits; the bot has not written it yet
    books = build_report(engine)["books"]
    assert books["agree"] is True and books["venue_fills_not_yet_recorded"] == 1
    running.journal.flush()
    report = build_report(engine)
    assert report["books"]["agree"] is True
    assert report["books"]["venue_fills_not_yet_recorded"] == 0
    (row,) = report["attribution"]
    # bought 0.5 at 100 against an expected 99: 1/99 worse = 101.01 bps
    assert (row["fill_ratio"], row["slippage_bps"], row["fees"]) == (
        "1.0000",
        "101.01",
        {"USDT": "0.05"},
    )
    assert report["books"]["bot_balances"]["BTC"] == str(Decimal("1.5"))
    with engine.begin() as c:
        c.execute(text("DELETE FROM paper_fills"))
    assert build_report(engine)["books"]["bot_fills_unknown_to_venue"] == 1
    assert build_report(engine)["books"]["agree"] is False


def test_a_pending_signal_with_a_reason_is_not_counted_as_rejected(tmp_path: Path) -> None:
    engine = store(tmp_path)
    running = start(engine, SimulatedClock(T0 + 1))
    running.bot.kernel.submit_signal(make_signal(signal_id="ok", asset="BTC/USDT", size="0.5"))
    running.bot.kernel.submit_signal(make_signal(signal_id="no", asset="NOPE/USDT", size="0.5"))
    running.journal.flush()
    with engine.begin() as c:  # an order of "ok" timed out, its reprice still to come
        c.execute(text("UPDATE signals SET reason = 'timed_out' WHERE signal_id = 'ok'"))
    signals = build_report(engine)["signals"]
    assert signals["by_status"] == {"pending": 1, "rejected": 1}
    assert signals["rejection_reasons"] == {"unknown_asset": 1}
