"""What modules may read about the running bot: time, holdings, open orders, prices, markets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from trading_bot.domain.market import Market
from trading_bot.engine.clock import Clock

if TYPE_CHECKING:
    from trading_bot.orders.manager import OrderManager
    from trading_bot.portfolio.portfolio import Portfolio


class PriceView(Protocol):
    """Latest known price per symbol, as of the clock's now (never a future price)."""

    def last_price(self, symbol: str) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class TradingContext:
    clock: Clock
    portfolio: Portfolio
    orders: OrderManager
    prices: PriceView
    market: Callable[[str], Market | None]
