"""Historical prices as seen from the clock's now: the close of the last completed bar."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading_bot.engine.clock import Clock
from trading_bot.market_data.bars import BarSeries


class HistoricalPrices:
    """`PriceView` over bar series. A bar's close is known only once the bar has closed, so a
    signal at 12:00:30 sees the close of the 11:59 bar, not of the 12:00 bar (no look-ahead)."""

    def __init__(self, series: Mapping[str, BarSeries], clock: Clock) -> None:
        self._series = dict(series)
        self._clock = clock

    def last_price(self, symbol: str) -> Decimal | None:
        series = self._series.get(symbol)
        if series is None:
            return None
        index = series.last_closed_before(self._clock.now_ms())
        return series.price(series.close[index]) if index >= 0 else None

    def final_prices(self) -> dict[str, Decimal]:
        """Close of the last bar of every series: the marks at the end of a backtest."""
        return {symbol: s.price(s.close[-1]) for symbol, s in self._series.items()}
