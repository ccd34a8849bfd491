"""Planned exposure: what running execution algorithms (an iceberg's chunks, a TWAP's slices)
mean to send later but have not sent yet.

The risk checks and the sizing see exposure through `context.orders.open_exposure(symbol)`.
`PlannedOrders` is the order manager as the context hands it out: the same object in every
other respect, but its `open_exposure` and `symbols_with_open_orders` also count the planned
amounts, so a later signal sees an approved iceberg's whole remaining plan, not only the
chunk that is currently open. The order manager itself is unchanged.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trading_bot.domain.enums import Side
from trading_bot.domain.money import ZERO

if TYPE_CHECKING:
    from trading_bot.orders.manager import OrderManager


class PlannedExposure:
    """The unsent amount of each running plan (keyed by the plan object), per symbol and side.
    An algorithm sets its plan's amount whenever it changes and drops it when done."""

    def __init__(self) -> None:
        self._plans: dict[object, tuple[str, Side, Decimal]] = {}

    def set(self, plan: object, symbol: str, side: Side, amount: Decimal) -> None:
        if amount > 0:
            self._plans[plan] = (symbol, side, amount)
        else:
            self._plans.pop(plan, None)

    def drop(self, plan: object) -> None:
        self._plans.pop(plan, None)

    def exposure(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Planned (buy, sell) amounts in `symbol`."""
        buys = sells = ZERO
        for planned_symbol, side, amount in self._plans.values():
            if planned_symbol == symbol:
                if side is Side.BUY:
                    buys += amount
                else:
                    sells += amount
        return buys, sells

    def symbols(self) -> set[str]:
        return {symbol for symbol, _, _ in self._plans.values()}


class PlannedOrders:
    """The order manager with planned amounts counted as open exposure. Everything else is
    the order manager's own (attributes are looked up on it)."""

    def __init__(self, manager: OrderManager, planned: PlannedExposure | None = None) -> None:
        self.manager = manager
        self.planned = planned if planned is not None else PlannedExposure()

    def open_exposure(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Unfilled (buy, sell) amounts of open orders in `symbol`, plus what running
        algorithms still plan to send there."""
        buys, sells = self.manager.open_exposure(symbol)
        planned_buys, planned_sells = self.planned.exposure(symbol)
        return buys + planned_buys, sells + planned_sells

    def symbols_with_open_orders(self) -> set[str]:
        return self.manager.symbols_with_open_orders() | self.planned.symbols()

    def __getattr__(self, name: str) -> Any:
        if name == "manager":  # not set yet (a copy being made): no endless lookup
            raise AttributeError(name)
        return getattr(self.manager, name)
