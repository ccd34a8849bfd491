from decimal import Decimal

from tests.conftest import MINUTE, T0
from trading_bot.market_data.bars import Bar
from trading_bot.market_data.live.aggregator import TradeBarAggregator
from trading_bot.market_data.live.trades import LiveTrade

D = Decimal


def trade(ts_ms: int, price: str, amount: str, trade_id: int = 0) -> LiveTrade:
    return LiveTrade("BTC/USDT", ts_ms, D(price), D(amount), trade_id, trade_id)


def test_a_later_minute_closes_the_bar_with_exact_ohlcv() -> None:
    bars = TradeBarAggregator("BTC/USDT")
    assert bars.add(trade(T0 + 1_000, "100.1", "0.1")) == []
    assert bars.add(trade(T0 + 20_000, "101.25", "0.2")) == []
    assert bars.add(trade(T0 + 30_000, "99.9", "0.3")) == []
    assert bars.add(trade(T0 + 59_999, "100.3", "0.0000001")) == []
    closed = bars.add(trade(T0 + MINUTE, "100.4", "1"))
    assert closed == [Bar(T0, D("100.1"), D("101.25"), D("99.9"), D("100.3"), D("0.6000001"))]
    assert bars.open_bar_start == T0 + MINUTE


def test_a_single_trade_bar_has_its_price_for_open_high_low_close() -> None:
    bars = TradeBarAggregator("BTC/USDT", interval_ms=5_000)
    bars.add(trade(T0 + 4_999, "7", "2"))
    assert bars.close_until(T0 + 5_000) == [Bar(T0, D(7), D(7), D(7), D(7), D(2))]


def test_time_closes_the_bar_only_once_its_interval_is_over() -> None:
    bars = TradeBarAggregator("BTC/USDT")
    bars.add(trade(T0 + 10, "1", "1"))
    assert bars.close_until(T0 + MINUTE - 1) == []
    assert len(bars.close_until(T0 + MINUTE)) == 1
    assert bars.close_until(T0 + 5 * MINUTE) == []  # nothing open: no bar at all


def test_minutes_without_trades_make_no_bar() -> None:
    bars = TradeBarAggregator("BTC/USDT")
    bars.add(trade(T0, "1", "1"))
    closed = bars.add(trade(T0 + 3 * MINUTE + 5, "2", "1"))
    assert [bar.ts_ms for bar in closed] == [T0]
    closed = bars.close_until(T0 + 10 * MINUTE)
    assert [bar.ts_ms for bar in closed] == [T0 + 3 * MINUTE]


def test_a_late_trade_for_a_closed_bar_is_counted_and_dropped() -> None:
    bars = TradeBarAggregator("BTC/USDT")
    bars.add(trade(T0 + 1_000, "10", "1"))
    bars.add(trade(T0 + MINUTE, "11", "1"))  # closes the T0 bar
    assert bars.add(trade(T0 + 59_000, "1000", "5")) == []
    assert bars.late_trades == 1
    closed = bars.close_until(T0 + 2 * MINUTE)
    assert closed == [Bar(T0 + MINUTE, D(11), D(11), D(11), D(11), D(1))]


def test_a_trade_in_a_minute_closed_by_time_is_late_even_if_it_had_no_bar() -> None:
    bars = TradeBarAggregator("BTC/USDT")
    bars.close_until(T0 + 2 * MINUTE)
    assert bars.add(trade(T0 + MINUTE + 1, "1", "1")) == []
    assert bars.late_trades == 1
    assert bars.add(trade(T0 + 2 * MINUTE, "2", "1")) == []
    assert bars.late_trades == 1
