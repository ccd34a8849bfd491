"""Historical prices as seen from the clock's now: never a price from the future."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trading_bot.engine.clock import Clock
from trading_bot.market_data.marks import MarkSeries


class HistoricalPrices:
    """`PriceView` over recorded marks. A bar's close is known only once the bar has closed,
    so a signal at 12:00:30 sees the close of the 11:59 bar, not of the 12:00 bar."""

    def __init__(self, marks: Mapping[str, MarkSeries], clock: Clock) -> None:
        self.marks = dict(marks)
        self._clock = clock

    def last_price(self, symbol: str) -> Decimal | None:
        series = self.marks.get(symbol)
        return series.at(self._clock.now_ms()) if series is not None else None

    def prices_at(
        self, symbol: str, times_ms: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64] | None:
        """The price known at each of `times_ms` (NaN before the first mark). A time after the
        clock's now is an error: it would read the future."""
        now = self._clock.now_ms()
        if len(times_ms) and int(times_ms.max()) > now:
            raise ValueError(f"prices_at: {int(times_ms.max())} is after now ({now})")
        series = self.marks.get(symbol)
        return series.at_many(times_ms) if series is not None else None

    def first_prices(self) -> dict[str, Decimal]:
        return {symbol: series.first() for symbol, series in self.marks.items() if len(series)}

    def final_prices(self) -> dict[str, Decimal]:
        """The last mark of every symbol: the prices at the end of a backtest."""
        return {symbol: series.last() for symbol, series in self.marks.items() if len(series)}
