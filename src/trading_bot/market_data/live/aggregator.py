"""Trades -> closed OHLCV bars, exact Decimal.

A bar covers [start, start + interval). It is handed out only once closed: when a trade of a
later interval arrives, or when `close_until(now_ms)` says the interval is over. An interval
without trades produces no bar (not a flat bar at the last close): a bar here means trading
happened, and every reader of prices (`LivePrices`, `MarkSeries`) already carries the last
known price across quiet intervals, so a made-up bar with zero volume would add nothing but
a fake open.

A trade for an interval that is already closed (it arrived late, or the caller closed the
interval by time before it came) is counted in `late_trades` and dropped: mixing it into a
bar that was already handed out would make the same bar mean two things.
"""

from __future__ import annotations

from decimal import Decimal

from trading_bot.market_data.bars import Bar
from trading_bot.market_data.live.trades import LiveTrade


class TradeBarAggregator:
    def __init__(self, symbol: str, interval_ms: int = 60_000) -> None:
        if interval_ms <= 0:
            raise ValueError("interval_ms must be positive")
        self.symbol = symbol
        self.interval_ms = interval_ms
        self.late_trades = 0
        self.trades = 0
        # everything before this time is closed (a bar handed out, or no trades)
        self.closed_until_ms: int | None = None
        self._start: int | None = None
        self._open = self._high = self._low = self._close = Decimal(0)
        self._volume = Decimal(0)

    def interval_start(self, ts_ms: int) -> int:
        return ts_ms - ts_ms % self.interval_ms

    @property
    def open_bar_start(self) -> int | None:
        """The start of the bar still collecting trades (None when there is none)."""
        return self._start

    def add(self, trade: LiveTrade) -> list[Bar]:
        """Take one trade; returns the bar it closed, if any (at most one)."""
        start = self.interval_start(trade.ts_ms)
        if self.closed_until_ms is not None and start < self.closed_until_ms:
            self.late_trades += 1
            return []
        closed: list[Bar] = []
        if self._start is not None and start != self._start:
            if start < self._start:  # earlier than the bar being built: its interval is over
                self.late_trades += 1
                return []
            closed.append(self._finish())
            self.closed_until_ms = start
        self.trades += 1
        price = trade.price
        if self._start is None:
            self._start = start
            self._open = self._high = self._low = price
            self._volume = Decimal(0)
        elif price > self._high:
            self._high = price
        elif price < self._low:
            self._low = price
        self._close = price
        self._volume += trade.amount
        return closed

    def close_until(self, now_ms: int) -> list[Bar]:
        """Close what is over at `now_ms`: the open bar if its interval ended at or before
        `now_ms`, and every interval before `now_ms`'s own (later trades for them are late)."""
        closed: list[Bar] = []
        current = self.interval_start(now_ms)
        if self._start is not None and self._start + self.interval_ms <= now_ms:
            closed.append(self._finish())
        if self.closed_until_ms is None or current > self.closed_until_ms:
            self.closed_until_ms = current
        return closed

    def _finish(self) -> Bar:
        assert self._start is not None
        bar = Bar(self._start, self._open, self._high, self._low, self._close, self._volume)
        self._start = None
        self.closed_until_ms = bar.ts_ms + self.interval_ms
        return bar
