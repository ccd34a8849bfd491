"""What modules may read about the running bot: time, holdings, open orders, prices, markets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from trading_bot.domain.market import Market
from trading_bot.engine.clock import Clock
from trading_bot.engine.planned import PlannedExposure

if TYPE_CHECKING:
    from trading_bot.orders.manager import OrderManager
    from trading_bot.portfolio.portfolio import Portfolio


class PriceView(Protocol):
    """Latest known price per symbol, as of the clock's now (never a future price)."""

    def last_price(self, symbol: str) -> Decimal | None: ...

    def prices_at(
        self, symbol: str, times_ms: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float64] | None:
        """The price known at each of `times_ms` (NaN before the first), as floats for
        statistics; None for an unknown symbol. Times after the clock's now are refused."""
        ...


@dataclass(frozen=True, slots=True)
class TradingContext:
    clock: Clock
    portfolio: Portfolio
    orders: OrderManager
    prices: PriceView
    market: Callable[[str], Market | None]
    # the currency equity and exposure are measured in (`backtest.valuation_currency`, or the
    # quote of the first market); None when the caller did not say
    valuation_currency: str | None = None

    @property
    def planned(self) -> PlannedExposure:
        """Where execution algorithms keep the amounts they will send later (counted in
        `orders.open_exposure`)."""
        return self.orders.planned
