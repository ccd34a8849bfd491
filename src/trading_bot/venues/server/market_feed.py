"""What the venue shows of one market on the wall clock: last price, a synthetic order book,
trades, candles and 24-hour statistics, all derived from the replayed bars.

Only what has happened by `now` is shown: a bar counts once it has closed (a trade, a bar of
zero length, as soon as it is printed). The order book is synthetic (`depth_levels` levels a
tick apart on each side of the last price, sized from the last bar's volume) because matching
runs on bars; its update id advances each time it changes, so REST snapshots and WebSocket
diffs can be stitched together the way Binance clients do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trading_bot.domain.market import Market
from trading_bot.domain.money import ceil_to_step, floor_to_step
from trading_bot.market_data.bars import BarSeries
from trading_bot.venues.server.formats import market_id

Level = tuple[Decimal, Decimal]


@dataclass(slots=True)
class BookView:
    update_id: int = 0
    price: Decimal | None = None
    bids: list[Level] = field(default_factory=list)
    asks: list[Level] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BookDiff:
    first_id: int
    last_id: int
    bids: list[Level]
    asks: list[Level]


@dataclass(frozen=True, slots=True)
class PrintedTrade:
    trade_id: int
    price: Decimal
    qty: Decimal
    time_ms: int
    buyer_is_maker: bool


class SymbolFeed:
    def __init__(
        self, series: BarSeries, market: Market, *, depth_levels: int, volume_in_quote: bool
    ) -> None:
        self.symbol = series.symbol
        self.market_id = market_id(series.symbol)
        self.series = series
        self.market = market
        self.close_ms = series.ts + series.interval_ms
        self._levels = depth_levels
        self._volume_in_quote = volume_in_quote and not series.is_trades
        self.book = BookView()
        # called with every change of the book (REST reads move it too): the WebSocket diffs
        self.book_listeners: list[Callable[[SymbolFeed, BookDiff], None]] = []

    # -- prices ---------------------------------------------------------------------------------

    def last_closed(self, now_ms: int) -> int:
        """Index of the last bar closed at `now_ms` (-1 before the first one)."""
        return int(np.searchsorted(self.close_ms, now_ms, side="right")) - 1

    def first_open(self, now_ms: int) -> int | None:
        """When the first bar at or after `now_ms` opens: where the matching engine takes
        up an order arriving then (None once the data has ended)."""
        index = self.series.first_at_or_after(now_ms)
        return self.series.ts_list[index] if index < len(self.series) else None

    def price(self, now_ms: int) -> Decimal:
        index = self.last_closed(now_ms)
        series = self.series
        if index < 0:
            return series.price(series.open[0])
        return series.price(series.close[index])

    def base_volume(self, index: int) -> Decimal:
        volume = Decimal(repr(float(self.series.volume[index])))
        if self._volume_in_quote:
            close = self.series.price(self.series.close[index])
            return volume / close if close else volume
        return volume

    def trade(self, index: int) -> PrintedTrade:
        """The one trade a bar prints at its close (its close price, its volume)."""
        series = self.series
        return PrintedTrade(
            index + 1,
            series.price(series.close[index]),
            floor_to_step(self.base_volume(index), self.market.amount_step),
            int(self.close_ms[index]),
            bool(series.close[index] < series.open[index]),
        )

    def trades(self, now_ms: int, limit: int, from_id: int | None = None) -> list[PrintedTrade]:
        last = self.last_closed(now_ms)
        if from_id is not None:
            first = max(0, from_id - 1)
            last = min(last, first + limit - 1)
        else:
            first = max(0, last - limit + 1)
        return [self.trade(i) for i in range(first, last + 1)]

    # -- order book -----------------------------------------------------------------------------

    def refresh_book(self, now_ms: int) -> BookDiff | None:
        """Move the synthetic book to the price at `now_ms`; the change as a diff, if any."""
        price = self.price(now_ms)
        book = self.book
        if book.price == price and book.bids:
            return None
        tick = self.market.price_step
        bid = floor_to_step(price, tick)
        if bid == price:
            bid -= tick
        ask = ceil_to_step(price, tick)
        if ask == price:
            ask += tick
        index = self.last_closed(now_ms)
        volume = self.base_volume(max(index, 0))
        step = self.market.amount_step
        qty = max(floor_to_step(volume / self._levels, step), step, self.market.min_amount)
        bids = [(bid - tick * i, qty) for i in range(self._levels) if bid - tick * i > 0]
        asks = [(ask + tick * i, qty) for i in range(self._levels)]
        diff_bids = _diff(book.bids, bids)
        diff_asks = _diff(book.asks, asks)
        book.update_id += 1
        book.price, book.bids, book.asks = price, bids, asks
        diff = BookDiff(book.update_id, book.update_id, diff_bids, diff_asks)
        for listener in self.book_listeners:
            listener(self, diff)
        return diff

    def touch_book(self) -> BookDiff:
        """An update with no change (a heartbeat for clients waiting on a diff)."""
        self.book.update_id += 1
        diff = BookDiff(self.book.update_id, self.book.update_id, [], [])
        for listener in self.book_listeners:
            listener(self, diff)
        return diff

    # -- candles and statistics -----------------------------------------------------------------

    def klines(
        self,
        interval_ms: int,
        now_ms: int,
        *,
        start_ms: int | None,
        end_ms: int | None,
        limit: int,
    ) -> list[list[object]]:
        """Closed bars (and the one in progress) grouped into `interval_ms` candles on the
        venue's (wall-clock) timeline."""
        series = self.series
        last = self.last_closed(now_ms)
        if last < 0:
            return []
        ts = series.ts[: last + 1]
        low_ms = start_ms if start_ms is not None else None
        high_ms = end_ms if end_ms is not None else now_ms
        lo = int(np.searchsorted(ts, low_ms, side="left")) if low_ms is not None else 0
        hi = int(np.searchsorted(ts, high_ms, side="right"))
        if hi <= lo:
            return []
        buckets = ts[lo:hi] // interval_ms
        unique, starts = np.unique(buckets, return_index=True)
        if start_ms is None and len(unique) > limit:
            unique, starts = unique[-limit:], starts[-limit:]
        elif len(unique) > limit:
            unique, starts = unique[:limit], starts[:limit]
        first = lo + int(starts[0])
        stop = lo + (int(starts[-1]) + int(np.sum(buckets[starts[-1] :] == unique[-1])))
        sel = slice(first, stop)
        offsets = starts - starts[0]
        opens = series.open[sel][offsets]
        highs = np.maximum.reduceat(series.high[sel], offsets)
        lows = np.minimum.reduceat(series.low[sel], offsets)
        ends = np.append(offsets[1:], stop - first) - 1
        closes = series.close[sel][ends]
        volumes = np.add.reduceat(series.volume[sel], offsets)
        counts = np.diff(np.append(offsets, stop - first))
        rows: list[list[object]] = []
        for i, bucket in enumerate(unique.tolist()):
            open_ms = bucket * interval_ms
            close = series.price(closes[i])
            volume = Decimal(repr(float(volumes[i])))
            rows.append(
                [
                    open_ms,
                    str(series.price(opens[i])),
                    str(series.price(highs[i])),
                    str(series.price(lows[i])),
                    str(close),
                    str(volume),
                    open_ms + interval_ms - 1,
                    str(volume * close),
                    int(counts[i]),
                    "0",
                    "0",
                    "0",
                ]
            )
        return rows

    def stats_24h(self, now_ms: int) -> dict[str, object]:
        series = self.series
        last = self.last_closed(now_ms)
        first = int(np.searchsorted(self.close_ms, now_ms - 86_400_000, side="right"))
        price = self.price(now_ms)
        if last < first:
            open_price = high = low = price
            volume = Decimal(0)
            count = 0
        else:
            sel = slice(first, last + 1)
            open_price = series.price(series.open[first])
            high = series.price(series.high[sel].max())
            low = series.price(series.low[sel].min())
            volume = Decimal(repr(float(series.volume[sel].sum())))
            count = last - first + 1
        return {
            "open": open_price,
            "high": high,
            "low": low,
            "last": price,
            "volume": volume,
            "quote_volume": volume * price,
            "count": count,
            "first_id": first + 1 if count else -1,
            "last_id": last + 1 if count else -1,
        }


def _diff(old: list[Level], new: list[Level]) -> list[Level]:
    """Levels to send so a client holding `old` ends up with `new` (size 0 removes)."""
    new_prices = {price for price, _ in new}
    old_map = dict(old)
    changes = [(price, Decimal(0)) for price, _ in old if price not in new_prices]
    changes += [(price, qty) for price, qty in new if old_map.get(price) != qty]
    return changes
