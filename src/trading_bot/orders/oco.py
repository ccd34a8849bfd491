"""OCO emulation: the bot links the legs of an OCO group when the venue does not.

A venue with native OCO (`Venue.links_oco`: the simulated and paper venues) cancels the other
leg itself. On one without it (ccxt: Binance spot takes no OCO flag on a single order) each leg
is an independent order: a stop that fills leaves the take-profit resting, and when that fills
too it sells base the bot never bought. The order manager then hands every execution of a
group's leg here, and this class keeps one rule:

    the open legs of a group never cover more than the group has not sold yet.

A group covers the amount its legs were placed for (all legs of a group share it). After a fill
of any leg, what is left is that amount less every fill of every leg: each other open leg whose
remaining is larger is reduced to it with a modify (canceled when nothing is left). A leg that
triggers (a stop now selling at market) cancels the others outright. A reduction that cannot
be sent yet (the leg is not acknowledged, or has a request in flight) goes on the leg's next
answer; one the venue refuses cancels the leg instead: nothing is re-placed here (the order
manager cannot name new orders), so a stop canceled that way leaves the rest to the bracket's
unprotected-position check (alarm, and a market close by default). If the legs still
sold more than the group covers (both executed at the venue before a cancel could land), that
over-sell is raised at ERROR and through `alarm`, the hook the bracket uses for an unprotected
position: it is a position the signal never asked for.

What a group covers is read from its legs at its first execution (nothing more is stored):
they are placed with one amount and only legs that did not execute are reduced, so the
largest leg amount is it. Groups are
rebuilt from the stored orders after a restart (`add` from `OrderManager.restore`), and
`settle_all` after the restart's reconciliation finishes what a crash interrupted. (Had both
legs filled in part before the restart, the largest amount reads low: the legs are then cut
further than needed, never less, and an over-sell may be reported that was not.) Only
orders with an OCO group reach this class: other orders pay nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from loguru import logger

from trading_bot.domain.money import ZERO, format_decimal
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus

if TYPE_CHECKING:
    from trading_bot.orders.manager import OrderManager


class OcoEmulation:
    def __init__(self, orders: OrderManager) -> None:
        self._orders = orders
        self._legs: dict[str, list[Order]] = {}
        self._covers: dict[str, Decimal] = {}  # known once a leg of the group executed
        self._triggered: set[str] = set()  # legs (client order ids) that triggered
        self._oversold: set[str] = set()  # raised once per group
        # (title, body): the service points it at the alarm the bracket uses
        self.alarm: Callable[[str, str], None] | None = None

    def add(self, order: Order) -> None:
        """A leg placed (or restored from the store)."""
        assert order.oco_group is not None
        group = self._legs.setdefault(order.oco_group, [])
        if all(leg is not order for leg in group):
            group.append(order)
        if order.status is OrderStatus.TRIGGERED:  # restored mid-execution
            self._triggered.add(order.client_order_id)

    def filled(self, order: Order) -> None:
        """Leg `order` filled, in part or whole (already applied to it)."""
        self._settle(order)

    def triggered(self, order: Order) -> None:
        """Stop leg `order` triggered: it now sells its remaining at market."""
        self._triggered.add(order.client_order_id)
        self._settle(order)

    def review(self, order: Order) -> None:
        """Leg `order` answered a request (accepted, modified, a modify refused): a reduction
        that could not be sent before goes now."""
        if order.oco_group in self._covers:
            self._settle(order)

    def modify_refused(self, order: Order) -> None:
        """The venue would not reduce leg `order`: it may sell more than is left, so it goes."""
        if order.oco_group in self._covers and order.is_open:
            self._orders.cancel(order)

    def settle_all(self) -> None:
        """After a restart's reconciliation: a group that executed before the restart but whose
        other legs were not canceled or reduced yet (a crash in between) gets it now."""
        for _group, legs in self._legs.items():
            if any(leg.filled_amount > 0 or leg.client_order_id in self._triggered for leg in legs):
                self._settle(legs[0])

    def _settle(self, order: Order) -> None:
        group = order.oco_group
        assert group is not None
        legs = self._legs[group]
        sold = sum((leg.filled_amount for leg in legs), ZERO)
        covers = self._covers.get(group)
        if covers is None:
            # legs are placed with one amount, and only legs that did not execute are ever
            # reduced: the largest is what the group covers
            covers = self._covers[group] = max(leg.amount for leg in legs)
        left = covers - sold
        if left < 0 and group not in self._oversold:
            self._oversold.add(group)
            self._raise_oversold(order, legs, covers, sold)
        triggered = any(leg.client_order_id in self._triggered for leg in legs)
        for leg in legs:
            if not leg.is_open or leg.client_order_id in self._triggered:
                continue  # a stop that triggered sells what the group holds: it stays
            if triggered or left <= 0:
                self._orders.cancel(leg)
            elif leg.remaining > left:
                self._orders.modify(leg, amount=leg.filled_amount + left)

    def _raise_oversold(
        self, order: Order, legs: list[Order], covers: Decimal, sold: Decimal
    ) -> None:
        symbol = order.symbol
        text = (
            f"OCO OVER-SELL: the legs of OCO group {order.oco_group} "
            f"({', '.join(leg.client_order_id for leg in legs)}) filled "
            f"{format_decimal(sold)} where the group covers {format_decimal(covers)}: the venue "
            f"does not link them and both executed before the other could be canceled; "
            f"{format_decimal(sold - covers)} more ({order.side}) than the position on {symbol} "
            "(check the account: a spot venue sold base the bot never bought)"
        )
        logger.error(text)
        if self.alarm is not None:
            self.alarm(f"OCO OVER-SELL on {symbol}", text + "\nThe bot keeps running.")
