"""`LivePrices`: the `PriceView` of a running bot, fed by the live feed.

Each price is stamped with the clock's now when it arrives: "known at" is when the bot learnt
it, so no reader can see a price before the bot had it, whatever the exchange's clock says.

Memory is bounded per symbol: the history is kept at `resolution_ms` (one mark per interval,
the last one of it, with the time it became known) for the last `history_ms`. The correlation
check samples prices on a grid (`lookback_periods` x `period_minutes`, 100 x 5 min by
default: about 8 h), so the default keeps 24 h at 10 s. A query time inside an interval sees
that interval's last mark if it was already known then, else the previous interval's last
one: at most one `resolution_ms` behind, never ahead. `last_price` is always the newest price,
exact.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from trading_bot.engine.clock import Clock


class _MarkRing:
    """Marks in time order, at most `capacity`: appended at the end, the oldest forgotten.
    Kept in arrays twice the capacity and compacted when full, so the live part is always one
    contiguous, sorted slice that `np.searchsorted` can read."""

    __slots__ = ("_known", "_price", "capacity", "end", "start")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._known = np.zeros(2 * capacity, dtype=np.int64)
        self._price = np.zeros(2 * capacity, dtype=np.float64)
        self.start = 0
        self.end = 0

    def __len__(self) -> int:
        return self.end - self.start

    def last_known_ms(self) -> int | None:
        return int(self._known[self.end - 1]) if self.end > self.start else None

    def replace_last(self, known_ms: int, price: float) -> None:
        self._known[self.end - 1] = known_ms
        self._price[self.end - 1] = price

    def append(self, known_ms: int, price: float) -> None:
        if self.end == len(self._known):  # full arrays: keep the newest capacity - 1 marks
            keep = self.capacity - 1
            self._known[:keep] = self._known[self.end - keep : self.end]
            self._price[:keep] = self._price[self.end - keep : self.end]
            self.start, self.end = 0, keep
        self._known[self.end] = known_ms
        self._price[self.end] = price
        self.end += 1
        if self.end - self.start > self.capacity:
            self.start += 1

    def at_many(self, times_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        known = self._known[self.start : self.end]
        index = np.searchsorted(known, times_ms, side="right") - 1
        out = np.full(len(times_ms), np.nan)
        found = index >= 0
        out[found] = self._price[self.start : self.end][index[found]]
        return out


class LivePrices:
    def __init__(
        self,
        clock: Clock,
        *,
        resolution_ms: int = 10_000,
        history_ms: int = 24 * 3_600_000,
    ) -> None:
        if resolution_ms <= 0 or history_ms < resolution_ms:
            raise ValueError("need resolution_ms > 0 and history_ms >= resolution_ms")
        self._clock = clock
        self.resolution_ms = resolution_ms
        self.history_ms = history_ms
        self._capacity = history_ms // resolution_ms + 1
        self._last: dict[str, Decimal] = {}
        self._rings: dict[str, _MarkRing] = {}

    def update(self, symbol: str, price: Decimal) -> None:
        """A new price for `symbol`, known from the clock's now."""
        if not price.is_finite() or price <= 0:
            return
        now = self._clock.now_ms()
        ring = self._rings.get(symbol)
        if ring is None:
            ring = self._rings[symbol] = _MarkRing(self._capacity)
        last = ring.last_known_ms()
        self._last[symbol] = price
        if last is not None and now // self.resolution_ms == last // self.resolution_ms:
            ring.replace_last(max(now, last), float(price))
        else:
            ring.append(now if last is None else max(now, last), float(price))

    def last_price(self, symbol: str) -> Decimal | None:
        return self._last.get(symbol)

    def prices_at(
        self, symbol: str, times_ms: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64] | None:
        """The price known at each of `times_ms` (NaN before the first mark kept). A time
        after the clock's now is an error: it would read the future."""
        now = self._clock.now_ms()
        if len(times_ms) and int(times_ms.max()) > now:
            raise ValueError(f"prices_at: {int(times_ms.max())} is after now ({now})")
        ring = self._rings.get(symbol)
        return ring.at_many(times_ms) if ring is not None else None

    def marks_kept(self, symbol: str) -> int:
        ring = self._rings.get(symbol)
        return len(ring) if ring is not None else 0

    def symbols(self) -> list[str]:
        return sorted(self._last)
