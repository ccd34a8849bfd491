"""Matching on trades: each trade is a zero-length bar at its price with its size as volume."""

from decimal import Decimal
from pathlib import Path

import numpy as np

from tests.conftest import T0
from tests.venues.simulated.harness import Venue
from trading_bot.domain.enums import LiquiditySide
from trading_bot.domain.rejections import RejectionReason as R
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.trade_csv import load_trades_csv

D = Decimal
DATA = Path(__file__).resolve().parents[2] / "data" / "BTCUSDT_trades_binance_2021-01-08.csv"
TRADES = load_trades_csv(DATA, "BTC/USDT")
FIRST = TRADES.start_ms  # 1610064000278: 39432.48 x 0.000263 sell


def test_the_real_trade_file_loads_exactly() -> None:
    assert len(TRADES) == 2001
    assert TRADES.is_trades
    assert TRADES.bar(0).open == D("39432.48")
    assert TRADES.bar(1).open == D("39439.44")


def test_market_order_fills_at_the_first_trade_at_or_after_it() -> None:
    v = Venue(TRADES)
    v.at(FIRST + 1).send("a", "buy", "0.01", "market")
    v.run(TRADES.end_ms)
    (fill,) = v.reports.fills("a")
    assert (fill.ts_ms, fill.price) == (1610064000310, D("39439.44"))


def test_volume_cap_spreads_a_market_order_over_the_following_trades() -> None:
    v = Venue(TRADES, fills={"max_volume_share": "1"})
    v.at(FIRST + 1).send("a", "buy", "0.006", "market")
    v.run(TRADES.end_ms)
    fills = v.reports.fills("a")
    # trade sizes after the first: 0.004376, then the next trades until 0.006 is reached
    assert fills[0].amount == D("0.004376")
    assert sum(f.amount for f in fills) == D("0.006")
    assert [f.price for f in fills[:1]] == [D("39439.44")]


def test_resting_limit_fills_at_its_own_price_when_a_trade_goes_through_it() -> None:
    v = Venue(TRADES)
    prices = [TRADES.bar(i).open for i in range(len(TRADES))]
    limit = min(prices[:50]) + D("0.01")  # below every price seen early, reached later
    first_through = next(i for i, p in enumerate(prices) if i > 0 and p < limit)
    v.at(FIRST + 1).send("a", "buy", "0.001", "limit", price=str(limit))
    v.run(TRADES.end_ms)
    (fill,) = v.reports.fills("a")
    assert fill.price == limit  # not the (lower) trade price: no gap fills on trades
    assert fill.liquidity is LiquiditySide.MAKER
    assert fill.ts_ms == TRADES.ts_list[first_through]


def synthetic(prices: list[str], sizes: list[str] | None = None, step_ms: int = 1000) -> BarSeries:
    """Trades `step_ms` apart from T0 at these prices."""

    scaled = np.array([int(D(p) * 100) for p in prices], dtype=np.int64)
    volume = np.array([float(s) for s in (sizes or ["1"] * len(prices))])
    stamps = np.arange(len(prices), dtype=np.int64) * step_ms + T0
    return BarSeries("BTC/USDT", stamps, scaled, scaled, scaled, scaled, volume, 2, interval_ms=0)


def test_stop_market_on_trades_fills_at_the_trade_that_reached_it() -> None:
    v = Venue(synthetic(["100", "101", "103", "102"]))
    v.at(T0 + 1).send("a", "buy", "1", "stop_market", trigger="102")
    v.run(T0 + 10_000)
    assert v.reports.kinds("a") == ["accepted", "triggered", "filled"]
    assert [(f.price, f.ts_ms) for f in v.reports.fills("a")] == [(D("103"), T0 + 2000)]


def test_oco_on_trades_first_leg_reached_wins() -> None:
    v = Venue(synthetic(["100", "99", "98", "105"]))
    v.at(T0 + 1)
    v.send("tp", "sell", "1", "limit", price="104", oco="g")
    v.send("sl", "sell", "1", "stop_market", trigger="98.5", oco="g")
    v.run(T0 + 10_000)
    assert [(f.price, f.ts_ms) for f in v.reports.fills("sl")] == [(D("98"), T0 + 2000)]
    assert v.reports.kinds("tp")[-1] == "canceled"


def test_latency_on_trades_moves_the_fill_to_a_later_trade() -> None:
    v = Venue(synthetic(["100", "101", "102", "103"]), latency={"submit_ms": 1500})
    v.at(T0 + 1).send("a", "buy", "1", "market")  # arrives at T0+1501: the trade at T0+2000
    v.run(T0 + 10_000)
    assert [f.price for f in v.reports.fills("a")] == [D("102")]


def test_ioc_fok_and_post_only_on_trades() -> None:
    v = Venue(
        synthetic(["100", "101", "99", "98"], sizes=["1", "0.5", "1", "1"]),
        fills={"max_volume_share": "1"},
    )
    v.at(T0 + 1)
    v.send("ioc", "buy", "1", "limit", price="101", tif="ioc")  # next trade 101 x 0.5
    v.send("fok", "buy", "1", "limit", price="101", tif="fok")
    v.send("post", "buy", "1", "limit", price="101", post_only=True)
    v.run(T0 + 10_000)
    assert [(f.price, f.amount) for f in v.reports.fills("ioc")] == [(D("101"), D("0.5"))]
    assert v.reports.reason("fok") is R.WOULD_NOT_FILL
    assert v.reports.reason("post") is R.POST_ONLY_WOULD_CROSS


def test_equal_timestamps_are_separate_trades() -> None:
    prices = np.array([10000, 10100, 10200], dtype=np.int64)
    series = BarSeries(
        "BTC/USDT",
        np.array([T0, T0 + 5, T0 + 5]),
        prices,
        prices,
        prices,
        prices,
        np.ones(3),
        2,
        interval_ms=0,
    )
    v = Venue(series, fills={"max_volume_share": "1"})
    v.at(T0 + 1).send("a", "buy", "2", "market")
    v.run(T0 + 10)
    assert [(f.price, f.ts_ms) for f in v.reports.fills("a")] == [
        (D("101"), T0 + 5),
        (D("102"), T0 + 5),
    ]
