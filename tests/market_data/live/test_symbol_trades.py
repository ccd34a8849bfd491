from decimal import Decimal

from tests.conftest import MINUTE, T0
from trading_bot.engine.clock import SimulatedClock
from trading_bot.market_data.bars import Bar
from trading_bot.market_data.live.sequence import TradeIdGap
from trading_bot.market_data.live.symbol_trades import SymbolTrades
from trading_bot.market_data.live.trades import LiveTrade


def trade(trade_id: int, ts_ms: int, price: str = "100") -> LiveTrade:
    return LiveTrade("BTC/USDT", ts_ms, Decimal(price), Decimal("0.5"), trade_id, trade_id)


def make_flow(clock: SimulatedClock) -> tuple[SymbolTrades, list[LiveTrade], list[Bar]]:
    trades: list[LiveTrade] = []
    bars: list[Bar] = []
    flow = SymbolTrades(
        "BTC/USDT",
        clock,
        on_trade=trades.append,
        on_bar=bars.append,
        bar_interval_ms=MINUTE,
        bar_close_delay_ms=2_000,
    )
    return flow, trades, bars


def test_the_clock_closes_a_quiet_bar_after_its_end_plus_the_delay() -> None:
    clock = SimulatedClock(T0)
    flow, trades, bars = make_flow(clock)
    flow.take(trade(1, T0 + 5_000, "101"))
    flow.take(trade(2, T0 + 50_000, "99"))
    clock.advance_to(T0 + MINUTE + 1_999)
    assert bars == []
    clock.advance_to(T0 + MINUTE + 2_000)
    assert bars == [Bar(T0, Decimal(101), Decimal(101), Decimal(99), Decimal(99), Decimal(1))]
    assert [t.first_id for t in trades] == [1, 2]


def test_a_trade_arriving_within_the_delay_still_counts_in_its_bar() -> None:
    clock = SimulatedClock(T0 + MINUTE + 500)
    flow, _, bars = make_flow(clock)
    flow.take(trade(1, T0 + 59_000, "10"))
    flow.take(trade(2, T0 + 59_900, "11"))  # stamped before the end, arrived after it
    clock.advance_to(T0 + 2 * MINUTE + 2_000)
    assert [(b.ts_ms, b.close, b.volume) for b in bars] == [(T0, Decimal(11), Decimal(1))]


def test_a_gap_is_found_before_the_trade_after_it_is_taken() -> None:
    clock = SimulatedClock(T0)
    flow, trades, _ = make_flow(clock)
    flow.take(trade(7, T0))
    late = trade(10, T0 + 1)
    assert flow.gap_before(late) == TradeIdGap("BTC/USDT", 8, 9)
    flow.take(trade(8, T0 + 1))  # a backfilled trade fills part of it
    flow.take(late)
    assert flow.is_repeat(trade(9, T0 + 1))
    assert [t.first_id for t in trades] == [7, 8, 10]


def test_stopping_cancels_the_pending_bar_close() -> None:
    clock = SimulatedClock(T0)
    flow, _, bars = make_flow(clock)
    flow.take(trade(1, T0))
    flow.stop()
    clock.advance_to(T0 + 10 * MINUTE)
    assert bars == []
