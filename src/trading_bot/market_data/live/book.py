"""An order book as the feed hands it on: a copy of the top levels, so a consumer reading it
later sees the book as it was when published, not ccxt's object that keeps changing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

Level = tuple[Decimal, Decimal]  # price, amount


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    symbol: str
    ts_ms: int | None  # the exchange's time of the last update applied
    received_ms: int  # our clock when the feed took it
    nonce: int | None  # the exchange's last update id
    bids: tuple[Level, ...]  # best first
    asks: tuple[Level, ...]

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        """Mid price; None for a one-sided or crossed book (not a price anyone could trade)."""
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None or bid >= ask:
            return None
        return (bid + ask) / 2


def _levels(side: Sequence[Sequence[Any]], depth: int) -> tuple[Level, ...]:
    # ccxt keeps book levels as floats; str() gives back the exchange's shortest decimal
    return tuple((Decimal(str(level[0])), Decimal(str(level[1]))) for level in side[:depth])


def snapshot_from_ccxt(
    symbol: str, book: Mapping[str, Any], received_ms: int, depth: int
) -> BookSnapshot:
    timestamp = book.get("timestamp")
    nonce = book.get("nonce")
    return BookSnapshot(
        symbol=symbol,
        ts_ms=int(timestamp) if timestamp is not None else None,
        received_ms=received_ms,
        nonce=int(nonce) if nonce is not None else None,
        bids=_levels(book.get("bids") or (), depth),
        asks=_levels(book.get("asks") or (), depth),
    )
