"""Mark prices: the price of a symbol as known at each moment, whatever the data kind.

Bars mark at their close (known when the bar closes), trades at their price, order books at
their mid. Prices are exact scaled integers like the data they come from.
"""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal

import numpy as np
import numpy.typing as npt


class MarkSeries:
    def __init__(
        self, known_ms: npt.NDArray[np.int64], price: npt.NDArray[np.int64], scale: int
    ) -> None:
        self.known_ms = known_ms
        self.price = price
        self.scale = scale
        self._known: list[int] = known_ms.tolist()
        # times a scaled price (an int, converted exactly): that price's exact Decimal
        self._unit = Decimal(1).scaleb(-scale)

    def __len__(self) -> int:
        return len(self._known)

    def at(self, ts_ms: int) -> Decimal | None:
        """The last price known at `ts_ms` (None before the first)."""
        index = bisect_right(self._known, ts_ms) - 1
        if index < 0:
            return None
        return self._unit * self.price.item(index)

    def at_many(self, times_ms: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The last price known at each of `times_ms`, as floats (NaN before the first)."""
        index = np.searchsorted(self.known_ms, times_ms, side="right") - 1
        out = np.full(len(times_ms), np.nan)
        known = index >= 0
        out[known] = self.price[index[known]] / (10.0**self.scale)
        return out

    def last(self) -> Decimal:
        return Decimal(int(self.price[-1])).scaleb(-self.scale)

    def first(self) -> Decimal:
        return Decimal(int(self.price[0])).scaleb(-self.scale)

    def as_float(self) -> npt.NDArray[np.float64]:
        return self.price.astype(np.float64) / (10.0**self.scale)
