"""A level-2 order book and a recorded series of book events (snapshots and deltas)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from trading_bot.domain.enums import Side
from trading_bot.market_data.marks import MarkSeries

Level = tuple[Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class BookEvent:
    """A full snapshot (replaces the book) or a delta (size 0 removes a level)."""

    ts_ms: int
    snapshot: bool
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class OrderBook:
    def __init__(self) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, event: BookEvent) -> None:
        if event.snapshot:
            self.bids = {p: s for p, s in event.bids if s > 0}
            self.asks = {p: s for p, s in event.asks if s > 0}
            return
        for book, updates in ((self.bids, event.bids), (self.asks, event.asks)):
            for price, size in updates:
                if size > 0:
                    book[price] = size
                else:
                    book.pop(price, None)

    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    def mid(self) -> Decimal | None:
        bid, ask = self.best_bid(), self.best_ask()
        if bid is None or ask is None:
            return bid if ask is None else ask
        return (bid + ask) / 2

    def liquidity_for(self, taker_side: Side) -> list[Level]:
        """Levels a taker on `taker_side` would hit, best first (asks for a buy)."""
        if taker_side is Side.BUY:
            return sorted(self.asks.items())
        return sorted(self.bids.items(), reverse=True)

    def consume(self, taker_side: Side, price: Decimal, amount: Decimal) -> None:
        """Remove `amount` at `price` from the side a taker on `taker_side` hits."""
        book = self.asks if taker_side is Side.BUY else self.bids
        left = book.get(price, Decimal(0)) - amount
        if left > 0:
            book[price] = left
        else:
            book.pop(price, None)


@dataclass(slots=True)
class BookSeries:
    symbol: str
    events: list[BookEvent]
    warnings: list[str] = field(default_factory=list)

    @property
    def start_ms(self) -> int:
        return self.events[0].ts_ms

    @property
    def end_ms(self) -> int:
        return self.events[-1].ts_ms

    def marks(self) -> MarkSeries:
        """The mid price after each event, known from the millisecond after it."""
        book = OrderBook()
        stamps: list[int] = []
        mids: list[Decimal] = []
        for event in self.events:
            book.apply(event)
            mid = book.mid()
            if mid is not None:
                stamps.append(event.ts_ms + 1)  # known just after the event, like a trade
                mids.append(mid)
        scale = max((-m.as_tuple().exponent for m in mids), default=0)  # type: ignore[operator]
        scale = max(0, scale)
        factor = Decimal(10) ** scale
        return MarkSeries(
            np.array(stamps, dtype=np.int64),
            np.array([int(m * factor) for m in mids], dtype=np.int64),
            scale,
        )


def group_levels(
    levels: Iterable[tuple[str, Decimal, Decimal]],
) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
    levels = list(levels)
    bids = tuple((p, s) for side, p, s in levels if side == "bid")

    asks = tuple((p, s) for side, p, s in levels if side == "ask")
    return bids, asks
