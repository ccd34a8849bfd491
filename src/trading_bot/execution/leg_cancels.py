"""Orders held back until the protective legs they take over from are gone.

A venue refuses a sell of base that open legs still hold, so an order taking over from a
position's protection (a close, a reversal, the unprotected-position close) is sent only
once the venue has confirmed the legs' cancels (or the legs filled meanwhile: then the order
meets what is left, as it would have a moment later). Until then it counts as planned
exposure. A cancel the venue refuses while the leg stays open (a venue busy or briefly
unreachable) is asked again after a pause, `CANCEL_RETRIES` times; then a human is told. The
order keeps waiting: the leg still holds the base and protects the position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from loguru import logger

from trading_bot.domain.enums import Side
from trading_bot.domain.order import Order
from trading_bot.execution.base import ExecutionAlgorithm

CANCEL_RETRIES = 5
CANCEL_RETRY_MS = 1_000  # the n-th retry waits n times this


@dataclass(slots=True, eq=False)
class HeldBack:
    """What to `send` once every order in `canceling` is gone."""

    canceling: list[Order]
    send: Callable[[], None]


class LegCancels:
    def __init__(self, execution: ExecutionAlgorithm) -> None:
        self._execution = execution  # its context (bound later) and its alarm
        self._held: list[HeldBack] = []
        # refusals so far of each leg being canceled for a held-back order, by client id
        self._refusals: dict[str, int] = {}

    def cancel_open(self, legs: Iterable[Order]) -> list[Order]:
        """Cancel the open ones of `legs`; those whose cancel the venue has not confirmed
        yet (they still hold what they would sell)."""
        orders = self._execution.context.orders
        canceling = []
        for leg in legs:
            if leg.is_open:
                self._refusals.setdefault(leg.client_order_id, 0)  # a refusal may come at once
                orders.cancel(leg)
                if leg.is_open:
                    canceling.append(leg)
        return canceling

    def once_gone(self, held: HeldBack, symbol: str, side: Side, amount: Decimal) -> None:
        """Send `held` now if the legs it waits for are gone, else when they are (`amount`
        on `side` counted as planned exposure meanwhile)."""
        if held.canceling:
            self._held.append(held)
            self._execution.context.planned.set(held, symbol, side, amount)
        else:
            held.send()

    def order_closed(self, order: Order) -> None:
        """`order` is no longer open: send what waited only for it (and others gone)."""
        if self._refusals:
            self._refusals.pop(order.client_order_id, None)
        if not self._held:
            return
        ready = [h for h in self._held if not any(o.is_open for o in h.canceling)]
        planned = self._execution.context.planned
        for held in ready:
            self._held.remove(held)
            planned.drop(held)
            held.send()

    def request_refused(self, order: Order, request: str) -> None:
        coid = order.client_order_id
        if request != "cancel" or not order.is_open or coid not in self._refusals:
            return
        tries = self._refusals[coid] = self._refusals[coid] + 1
        context = self._execution.context
        if tries <= CANCEL_RETRIES:
            orders = context.orders
            context.clock.schedule_after(CANCEL_RETRY_MS * tries, lambda: orders.cancel(order))
            return
        if tries == CANCEL_RETRIES + 1:
            text = (
                f"the venue refused {tries} times to cancel protective order {coid} on "
                f"{order.symbol}; the order taking over from it waits until it is gone "
                "(cancel it at the venue)"
            )
            logger.error(text)
            if self._execution.alarm is not None:
                self._execution.alarm(f"PROTECTIVE ORDER NOT CANCELED on {order.symbol}", text)
