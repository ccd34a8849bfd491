import gc
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import MINUTE, T0, loaded_config, make_bars, make_signal
from trading_bot.backtest.runner import (
    BacktestSetupError,
    run_backtest,
    young_collections_only,
)
from trading_bot.backtest.summary import build_summary
from trading_bot.engine.signal_ledger import InvalidSignal
from trading_bot.intake.signal_file import RecordedSignal, read_signal_file

D = Decimal


def recorded(*signals: object) -> list[RecordedSignal | InvalidSignal]:
    return [
        s if isinstance(s, InvalidSignal) else RecordedSignal(s, i) for i, s in enumerate(signals)
    ]  # type: ignore[arg-type]


def test_signals_run_in_time_order_and_every_one_ends_in_the_summary() -> None:
    bars = make_bars("BTC/USDT", ["100", "110", "120", "130"])
    signals = recorded(
        make_signal(signal_id="late", side="sell", size="1", created_at=T0 + 2 * MINUTE),
        make_signal(signal_id="early", size="1", created_at=T0 + 1),
        make_signal(signal_id="early", size="1", created_at=T0 + 5),
        make_signal(signal_id="eth", asset="ETH/USDT", created_at=T0),
        make_signal(signal_id="after", created_at=T0 + 9 * MINUTE),
        InvalidSignal("f:9", ("size: bad",), "{}"),
    )
    result = run_backtest(loaded_config(), [bars], signals)
    summary = build_summary(result)
    # buy 1 @ 110 (fee 0.11), sell 1 @ 120 (fee 0.12)
    assert summary["final_balances"] == {"BTC": "0", "USDT": str(D("10000") - D("0.23") + D("10"))}
    assert summary["final_balances"] == summary["venue_balances"]
    assert summary["signals"] == {"total": 6, "executed": 2, "rejected": 4}
    assert summary["rejected_signals"] == {
        "duplicate": 1,
        "invalid_signal": 1,
        "no_market_data": 1,
        "unknown_asset": 1,
    }
    assert summary["orders"] == 3
    assert summary["fills"] == 2
    assert summary["total_fees"] == "0.23"
    assert summary["realized_pnl"] == "10"
    assert summary["net_pnl"] == "9.77"


def test_signal_without_created_at_is_invalid_in_a_backtest(tmp_path: Path) -> None:
    bars = make_bars("BTC/USDT", ["100", "110"])
    path = tmp_path / "signals.jsonl"
    path.write_text('{"signal_id": "a", "asset": "BTC/USDT", "side": "buy", "size": 1}\n')
    signals = list(read_signal_file(path, require_created_at=True))
    result = run_backtest(loaded_config(), [bars], signals)
    summary = build_summary(result)
    assert summary["invalid_signals"][0]["location"] == f"{path}:1"
    assert summary["invalid_signals"][0]["raw"].startswith('{"signal_id": "a"')
    assert summary["rejected_signals"] == {"invalid_signal": 1}
    assert "created_at: required" in summary["invalid_signals"][0]["errors"][0]


def test_backtest_needs_data_and_the_simulated_exchange() -> None:
    with pytest.raises(BacktestSetupError, match="needs market data"):
        run_backtest(loaded_config(), [], [])


def test_equity_statistics_follow_the_marked_holdings() -> None:
    bars = make_bars("BTC/USDT", ["100", "100", "50", "100"], closes=["100", "50", "100", "100"])
    loaded = loaded_config(
        exchange={
            "class": "simulated",
            "params": {"balances": {"USDT": "100"}, "fees": {"taker": "0"}},
        }
    )
    result = run_backtest(loaded, [bars], recorded(make_signal(size="1", created_at=T0)))
    summary = build_summary(result)
    # all-in at 100, marked 100 -> 50 -> 100 -> 100: a 50% drawdown, ending flat at 100
    assert summary["max_drawdown"] == 0.5
    assert summary["final_equity"] == "100"
    assert summary["unrealized_pnl"] == "0"
    assert summary["positions"]["BTC/USDT"]["quantity"] == "1"


def test_the_last_bars_range_still_fills_a_resting_limit() -> None:
    bars = make_bars("BTC/USDT", ["100", "100", "100"], closes=["100", "100", "90"])
    loaded = loaded_config(execution={"class": "limit"})
    signals = recorded(make_signal(order_type="limit", price="95", created_at=T0 + 1))
    summary = build_summary(run_backtest(loaded, [bars], signals))
    # the last bar (opening T0+2m) trades down to 90 through 95: filled at its close
    assert summary["fills"] == 1
    assert summary["signals"]["executed"] == 1


def test_only_young_gc_passes_run_during_a_backtest_and_the_thresholds_come_back() -> None:
    before = gc.get_threshold()
    with young_collections_only():
        young, middle, old = gc.get_threshold()
        assert young == before[0]
        assert middle > 10**6 and old > 10**6  # older generations wait for the end
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), young_collections_only():
        raise RuntimeError("a failing run")
    assert gc.get_threshold() == before
    run_backtest(loaded_config(), [make_bars("BTC/USDT", ["100", "110"])], recorded(make_signal()))
    assert gc.get_threshold() == before
