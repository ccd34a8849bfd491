"""Gaps in a symbol's trade ids.

Binance numbers the trades of a symbol consecutively. A jump from id N to N + k (k > 1) means
k - 1 trades never reached us (a dropped connection, a consumer too slow for ccxt's own trade
cache). An id at or below the last one seen is a repeat (a backfill overlapping the stream).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TradeIdGap:
    symbol: str
    first_missing: int
    last_missing: int

    @property
    def size(self) -> int:
        return self.last_missing - self.first_missing + 1


class TradeSequence:
    """The last trade id seen for one symbol; says whether the next trade repeats one, follows
    on, or leaves a gap."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.last_id: int | None = None
        self.gaps = 0
        self.missing_trades = 0
        self.repeats = 0

    def is_repeat(self, last_id: int | None) -> bool:
        """True for a trade already covered (its last id at or below the last one seen)."""
        if last_id is None or self.last_id is None or last_id > self.last_id:
            return False
        self.repeats += 1
        return True

    def gap_before(self, first_id: int | None) -> TradeIdGap | None:
        """The ids missing between the last trade seen and one starting at `first_id`."""
        if first_id is None or self.last_id is None or first_id <= self.last_id + 1:
            return None
        gap = TradeIdGap(self.symbol, self.last_id + 1, first_id - 1)
        self.gaps += 1
        self.missing_trades += gap.size
        return gap

    def advance(self, last_id: int | None) -> None:
        if last_id is not None and (self.last_id is None or last_id > self.last_id):
            self.last_id = last_id

    def filled(self, count: int) -> None:
        """`count` trades of a gap were recovered (backfilled)."""
        self.missing_trades -= count
