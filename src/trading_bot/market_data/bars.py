"""Candle (bar) series held as compact arrays with exact prices. Trades use the same shape:
a trade is a bar of zero length whose open, high, low and close are its price and whose volume
is its size.

Prices are stored as integers scaled by 10**price_scale (exact: `46250.5` at scale 1 is
462505), so a million bars take a few dozen MB and every price read back is the exact
Decimal of the source file. Timestamps are bar open times in epoch ms.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trading_bot.market_data.marks import MarkSeries

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Bar:
    ts_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class BarSeries:
    def __init__(
        self,
        symbol: str,
        ts: IntArray,
        open_: IntArray,
        high: IntArray,
        low: IntArray,
        close: IntArray,
        volume: FloatArray,
        price_scale: int,
        interval_ms: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.ts = ts
        self.open = open_
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.price_scale = price_scale
        self.interval_ms = interval_ms if interval_ms is not None else _typical_interval(ts)
        self.is_trades = self.interval_ms == 0
        self.ts_list: list[int] = ts.tolist()
        # times a scaled price (an int, converted exactly): that price's exact Decimal, with the
        # digits and exponent scaleb gives, without building a Decimal from the int first
        self.price_unit = Decimal(1).scaleb(-price_scale)

    def __len__(self) -> int:
        return len(self.ts_list)

    def price(self, scaled: int | np.integer) -> Decimal:
        """The exact Decimal of a scaled price from one of the arrays."""
        return self.price_unit * int(scaled)

    def bar(self, index: int) -> Bar:
        return Bar(
            self.ts_list[index],
            self.price(self.open[index]),
            self.price(self.high[index]),
            self.price(self.low[index]),
            self.price(self.close[index]),
            Decimal(repr(float(self.volume[index]))),
        )

    def first_at_or_after(self, ts_ms: int) -> int:
        """Index of the first bar opening at or after `ts_ms` (len(self) if none)."""
        return bisect_left(self.ts_list, ts_ms)

    def marks(self) -> MarkSeries:
        """Closes, each known at its bar's close time (open + interval). A trade is known just
        after it happened: a signal at the very millisecond of a trade comes before it, as a
        signal at a bar's open comes before that bar."""
        return MarkSeries(self.ts + (self.interval_ms or 1), self.close, self.price_scale)

    @property
    def start_ms(self) -> int:
        return self.ts_list[0]

    @property
    def end_ms(self) -> int:
        return self.ts_list[-1]

    def tiled(self, total_bars: int, *, skip_copies: int = 0) -> BarSeries:
        """Repeat the series to `total_bars`, each copy shifted by the span plus one interval
        (after `skip_copies` copies left out: the bars from there on, as a longer tiling has
        them).

        Used by benchmarks to make long runs from one real file; time stays strictly
        increasing (prices jump at each copy boundary).
        """
        copies = -(-total_bars // len(self))
        shift = self.end_ms - self.start_ms + self.interval_ms
        numbers = np.arange(skip_copies, skip_copies + copies, dtype=np.int64)
        offsets = np.repeat(numbers * shift, len(self))[:total_bars]

        def tile(array: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            return np.tile(array, copies)[:total_bars]

        return BarSeries(
            self.symbol,
            tile(self.ts) + offsets,
            tile(self.open),
            tile(self.high),
            tile(self.low),
            tile(self.close),
            tile(self.volume),
            self.price_scale,
            self.interval_ms,
        )

    def replay_copies(
        self, anchor_ms: int, speed: int, until_ms: int, from_ms: int | None = None
    ) -> int:
        """How many copies of the series `replayed` needs to cover `until_ms`."""
        return self._replay_window(anchor_ms, speed, until_ms, from_ms)[1]

    def replayed(
        self, anchor_ms: int, speed: int, until_ms: int, from_ms: int | None = None
    ) -> BarSeries:
        """The series played from `anchor_ms` on at `speed` times real time, repeated (as in
        `tiled`) until it covers `until_ms`: recorded prices for a paper venue on the wall
        clock. The same anchor always gives the same timeline, so a restarted paper venue
        continues where it was. With `from_ms`, the copies that ended over one copy before
        it are left out (a venue restarted long after its first start holds only what it
        still needs)."""
        first, copies = self._replay_window(anchor_ms, speed, until_ms, from_ms)
        tiled = self.tiled(copies * len(self), skip_copies=first)
        ts = anchor_ms + (tiled.ts - self.start_ms) // speed
        return BarSeries(
            self.symbol,
            ts,
            tiled.open,
            tiled.high,
            tiled.low,
            tiled.close,
            tiled.volume,
            self.price_scale,
            self.interval_ms // speed,
        )

    def _replay_window(
        self, anchor_ms: int, speed: int, until_ms: int, from_ms: int | None
    ) -> tuple[int, int]:
        """(first copy, number of copies) of the replay from `from_ms` (the anchor when
        None; one copy before it is kept as recent history) to `until_ms`."""
        span = self.end_ms - self.start_ms + self.interval_ms
        wall_span = max(1, span // speed)
        end = max(1, -(-(until_ms - anchor_ms) // wall_span) + 1)
        first = 0 if from_ms is None else max(0, (from_ms - anchor_ms) // wall_span - 1)
        first = min(first, end - 1)
        return first, end - first


def _typical_interval(ts: IntArray) -> int:
    """The most common gap between bars (gaps from missing bars do not distort it)."""
    if len(ts) < 2:
        return 60_000  # a single bar: assume the common 1-minute candle
    diffs = np.diff(ts[: min(len(ts), 10_000)])
    value, _ = Counter(diffs.tolist()).most_common(1)[0]
    return int(value)
