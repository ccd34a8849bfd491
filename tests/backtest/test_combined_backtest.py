"""Backtests with the combined strategy on the bundled candles, and target-position reversals
end to end, checked against computations that use none of the bot's analysis code."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from typing import Any

import yaml

from tests.conftest import EXAMPLES, MINUTE, T0, make_bars, make_signal
from trading_bot.backtest.runner import BacktestResult, run_backtest
from trading_bot.backtest.summary import build_summary
from trading_bot.config.loader import load_config_data
from trading_bot.domain.enums import Side
from trading_bot.domain.signal import Signal
from trading_bot.intake.signal_file import RecordedSignal, read_signal_file
from trading_bot.market_data.loader import load_market_data

D = Decimal
DATA = EXAMPLES / "data" / "BTC-USD_1m_2022-01-01.csv"
SIGNALS = EXAMPLES / "signals.jsonl"
ANALYSIS = {"fast_period": 5, "slow_period": 20, "momentum_period": 10, "full_strength_move": 0.002}


def bundled_backtest(strategy: dict[str, Any]) -> BacktestResult:
    data = yaml.safe_load((EXAMPLES / "backtest.yaml").read_text())
    data["strategy"] = strategy
    loaded = load_config_data(data, source="test.yaml", environ={})
    signals = list(read_signal_file(SIGNALS))
    return run_backtest(loaded, [load_market_data(DATA, "BTC/USD")], signals)


def known_closes() -> dict[int, float]:
    """Each bar's close, keyed by when it became known (the bar's open + 1 minute)."""
    with DATA.open() as handle:
        return {int(r["timestamp_ms"]) + MINUTE: float(r["close"]) for r in csv.DictReader(handle)}


def independent_direction(closes: dict[int, float], now: int) -> int:
    """The README's analysis, by hand: the average of the clipped trend and momentum votes
    over the closes known at each minute up to now."""
    last = now - now % MINUTE
    known = sorted(t for t in closes if t <= last)
    grid = []
    for k in range(20):
        at = last - k * MINUTE
        before = [t for t in known if t <= at]
        grid.append(closes[before[-1]])
    grid.reverse()
    scale = ANALYSIS["full_strength_move"]
    trend = (sum(grid[-5:]) / 5) / (sum(grid) / 20) - 1
    momentum = grid[-1] / grid[-11] - 1
    score = (max(-1, min(1, trend / scale)) + max(-1, min(1, momentum / scale))) / 2
    return (score > 0) - (score < 0)


def test_confirmation_changes_which_signals_trade_and_when_on_the_bundled_candles() -> None:
    detector = build_summary(
        bundled_backtest({"class": "detector_driven", "params": {"min_confidence": 0.5}})
    )
    combined_params = {
        "min_confidence": 0.5,
        "internal_weight": 0.5,
        "buffer_ttl_s": 600,
        **ANALYSIS,
    }
    result = bundled_backtest({"class": "combined", "params": combined_params})
    summary = build_summary(result)
    assert summary["fills"] < detector["fills"]
    assert summary["rejected_signals"].get("not_confirmed", 0) > 0
    assert summary["final_balances"] != detector["final_balances"]

    closes = known_closes()
    signals = {
        json.loads(line)["signal_id"]: json.loads(line)
        for line in SIGNALS.read_text().splitlines()
        if line.strip()
    }
    first_orders = {}
    for order in result.bot.orders.all_orders:
        first_orders.setdefault(order.signal_id, order)
    deferred = 0
    for signal_id, order in first_orders.items():
        raw = signals[signal_id]
        if "side" not in raw:
            continue  # targets: their direction depends on the position at the time
        wanted = 1 if raw["side"] == "buy" else -1
        assert independent_direction(closes, order.created_ms) == wanted, signal_id
        if order.created_ms > raw["created_at"]:
            deferred += 1
            assert order.created_ms % MINUTE == 0  # placed by a re-check as a bar closed
            assert independent_direction(closes, raw["created_at"]) != wanted, signal_id
    assert deferred > 0  # some signals waited and were confirmed later
    ledger = result.bot.kernel.ledger
    assert all(r.status.value != "pending" for r in ledger.records())


def test_a_backtest_ends_signals_still_waiting_as_not_confirmed() -> None:
    bars = make_bars("BTC/USDT", ["100", "99", "98", "97", "96", "95"])
    loaded = load_config_data(
        {
            "mode": "backtest",
            "exchange": {"class": "simulated", "params": {"balances": {"USDT": "10000"}}},
            "strategy": {
                "class": "modules.strategy.combined.CombinedStrategy",
                "params": {"fast_period": 2, "slow_period": 3, "momentum_period": 2},
            },
            "execution": {"class": "market"},
        },
        source="test.yaml",
        environ={},
    )
    signal = make_signal(created_at=T0 + 4 * MINUTE + 30_000)  # a buy in a falling market
    result = run_backtest(loaded, [bars], [RecordedSignal(signal, 0)])
    assert build_summary(result)["rejected_signals"] == {"not_confirmed": 1}
    assert result.bot.orders.all_orders == []


def target(signal_id: str, position: str, at_ms: int) -> Signal:
    return make_signal(
        signal_id=signal_id, side=None, size=None, target_position=position, created_at=at_ms
    )


def test_target_position_reversals_end_to_end_in_a_backtest() -> None:
    bars = make_bars("BTC/USDT", ["100", "101", "102", "103", "104", "105"])
    loaded = load_config_data(
        {
            "mode": "backtest",
            "exchange": {
                "class": "simulated",
                "params": {"balances": {"USDT": "10000", "BTC": "1"}, "fees": {"taker": "0.001"}},
            },
            "strategy": {"class": "detector_driven"},
            "execution": {"class": "market"},
            "risk": {
                "enabled": True,
                "checks": [{"class": "position_limits", "params": {"max_position_size": "1"}}],
            },
        },
        source="test.yaml",
        environ={},
    )
    targets = [("long", "1", 0), ("short", "-1", 1), ("long-again", "1", 3)]
    signals = [
        RecordedSignal(target(name, position, T0 + minute * MINUTE + 30_000), n)
        for n, (name, position, minute) in enumerate(targets)
    ]
    result = run_backtest(loaded, [bars], signals)
    trades = [(f.side, f.amount, f.price) for f in result.bot.portfolio.fills]
    assert trades == [
        (Side.BUY, D(1), D(101)),  # long 1 @ 00:01 open
        (Side.SELL, D(1), D(102)),  # close the long @ 00:02 open
        (Side.SELL, D(1), D(102)),  # open the short
        (Side.BUY, D(1), D(104)),  # close the short @ 00:04 open
        (Side.BUY, D(1), D(104)),  # open the long again
    ]
    summary = build_summary(result)
    assert summary["signals"]["executed"] == 3
    # +1 (102 - 101) on the long, -2 (102 - 104) on the short
    assert result.bot.portfolio.realized_pnl("BTC/USDT") == D(-1)
    assert result.bot.portfolio.position_quantity("BTC/USDT") == D(1)
    # cash -101 + 102 + 102 - 104 - 104 = -105; fees 0.1% of the 513 traded
    assert result.bot.portfolio.balance("USDT") == D(10000) - D(105) - D("0.513")
    assert result.bot.portfolio.balance("BTC") == D(2)
