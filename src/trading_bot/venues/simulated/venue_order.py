"""The simulated venue's own record of an order.

The venue never touches the bot's `Order`: it keeps its own copy of what it was sent, as a
real exchange does, and only reports back. So the bot's bookkeeping is checked against an
independent one, exactly as it will be against a live venue.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.engine.clock import Timer

_MARKET: Final = OrderType.MARKET
_STOP_MARKET: Final = OrderType.STOP_MARKET


@dataclass(slots=True, eq=False, init=False)
class VenueOrder:
    """The venue's own copy of an order. `__init__` written out, as `Order`'s (a test holds
    it to the fields): compiled, it is far cheaper than the generated one."""

    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    amount: Decimal
    price: Decimal | None
    trigger_price: Decimal | None
    time_in_force: TimeInForce
    post_only: bool
    oco_group: str | None
    expires_at_ms: int | None
    filled: Decimal = ZERO
    accepted: bool = False
    triggered: bool = False
    closed: bool = False
    timer: Timer | None = None
    start_index: int = -1  # the data index where the venue first processed it (path matching)
    # a market order acknowledged before its first fill: the last price its funds are held at
    estimate: Decimal | None = None

    def __init__(
        self,
        client_order_id: str,
        venue_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        amount: Decimal,
        price: Decimal | None,
        trigger_price: Decimal | None,
        time_in_force: TimeInForce,
        post_only: bool,
        oco_group: str | None,
        expires_at_ms: int | None,
        filled: Decimal = ZERO,
        accepted: bool = False,
        triggered: bool = False,
        closed: bool = False,
        timer: Timer | None = None,
        start_index: int = -1,
        estimate: Decimal | None = None,
    ) -> None:
        self.client_order_id = client_order_id
        self.venue_order_id = venue_order_id
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.amount = amount
        self.price = price
        self.trigger_price = trigger_price
        self.time_in_force = time_in_force
        self.post_only = post_only
        self.oco_group = oco_group
        self.expires_at_ms = expires_at_ms
        self.filled = filled
        self.accepted = accepted
        self.triggered = triggered
        self.closed = closed
        self.timer = timer
        self.start_index = start_index
        self.estimate = estimate

    @classmethod
    def of(cls, order: Order, venue_order_id: str) -> VenueOrder:
        return cls(
            order.client_order_id,
            venue_order_id,
            order.symbol,
            order.side,
            order.order_type,
            order.amount,
            order.price,
            order.trigger_price,
            order.time_in_force,
            order.post_only,
            order.oco_group,
            order.expires_at_ms,
        )

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def acts_as_market(self) -> bool:
        """A market order, or a stop-market that has triggered."""
        return self.order_type is _MARKET or (self.order_type is _STOP_MARKET and self.triggered)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
