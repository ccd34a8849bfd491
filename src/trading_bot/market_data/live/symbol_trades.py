"""One symbol's trades after the exchange: repeats dropped, id gaps found, trades built into
bars, and the bar in progress closed by the clock once its interval (plus a delay for trades
still on the way) is over, even when no later trade comes to close it."""

from __future__ import annotations

from collections.abc import Callable

from trading_bot.engine.clock import Clock, Timer
from trading_bot.market_data.bars import Bar
from trading_bot.market_data.live.aggregator import TradeBarAggregator
from trading_bot.market_data.live.sequence import TradeIdGap, TradeSequence
from trading_bot.market_data.live.trades import LiveTrade


class SymbolTrades:
    def __init__(
        self,
        symbol: str,
        clock: Clock,
        *,
        on_trade: Callable[[LiveTrade], None],
        on_bar: Callable[[Bar], None],
        bar_interval_ms: int = 60_000,
        bar_close_delay_ms: int = 2_000,
    ) -> None:
        self.symbol = symbol
        self.clock = clock
        self.sequence = TradeSequence(symbol)
        self.bars = TradeBarAggregator(symbol, bar_interval_ms)
        self.close_delay_ms = bar_close_delay_ms
        self.last_trade_ms: int | None = None
        self.taken = 0
        self._on_trade = on_trade
        self._on_bar = on_bar
        self._timer: Timer | None = None

    def is_repeat(self, trade: LiveTrade) -> bool:
        return self.sequence.is_repeat(trade.last_id)

    def gap_before(self, trade: LiveTrade) -> TradeIdGap | None:
        """The ids missing between the last trade taken and `trade` (counted once here)."""
        return self.sequence.gap_before(trade.first_id)

    def take(self, trade: LiveTrade) -> None:
        """A trade in id order: into the bar in progress, then to the subscribers."""
        self.sequence.advance(trade.last_id)
        self.taken += 1
        self.last_trade_ms = trade.ts_ms
        for bar in self.bars.add(trade):
            self._on_bar(bar)
        self._schedule_close()
        self._on_trade(trade)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule_close(self) -> None:
        start = self.bars.open_bar_start
        if start is None:
            return
        due = start + self.bars.interval_ms + self.close_delay_ms
        timer = self._timer
        if timer is not None and not timer.cancelled and timer.at_ms == due:
            return
        if timer is not None:
            timer.cancel()
        self._timer = self.clock.schedule_at(due, self._close_due)

    def _close_due(self) -> None:
        self._timer = None
        for bar in self.bars.close_until(self.clock.now_ms() - self.close_delay_ms):
            self._on_bar(bar)
