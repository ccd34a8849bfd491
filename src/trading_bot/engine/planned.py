"""Planned exposure: what running execution algorithms (an iceberg's chunks, a TWAP's slices)
mean to send later but have not sent yet.

The order manager keeps one (`OrderManager.planned`) and counts it in `open_exposure`, which
the risk checks and the sizing read: a later signal sees an approved iceberg's whole
remaining plan, not only the chunk that is currently open.
"""

from __future__ import annotations

from decimal import Decimal

from trading_bot.domain.enums import Side
from trading_bot.domain.money import ZERO


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

    def __bool__(self) -> bool:
        return bool(self._plans)
