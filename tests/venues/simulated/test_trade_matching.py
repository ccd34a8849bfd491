"""Matching on trades: each trade is a zero-length bar at its price with its size as volume."""

from decimal import Decimal
from pathlib import Path

from tests.venues.simulated.harness import Venue
from trading_bot.domain.enums import LiquiditySide
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
