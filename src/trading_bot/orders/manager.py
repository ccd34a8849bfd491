"""The order manager: the one owner of order state.

Execution algorithms hand it new orders; venues report back to it (it implements
`VenueReports`). It applies each report to the order's state machine, refuses what cannot be
true (a second fill with the same trade id, an overfill, a fill for an order it never sent) and
publishes the resulting events for the portfolio and the signal ledger.
"""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from trading_bot.domain.enums import Side
from trading_bot.domain.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderRequestRefused,
    OrderSubmitted,
    OrderTriggered,
)
from trading_bot.domain.fill import Fill
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order, OverfillError
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.bus import EventBus
from trading_bot.engine.clock import Clock
from trading_bot.venues.base import Venue

_MODIFIABLE = frozenset({OrderStatus.ACCEPTED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED})
_BUY = Side.BUY  # `Side.BUY` is a slow class attribute lookup on Python 3.11


class DuplicateClientOrderId(RuntimeError):
    """An order with this client order id was already sent: it is never sent twice."""


class OrderManager:
    def __init__(self, bus: EventBus, clock: Clock, venue: Venue) -> None:
        self._bus = bus
        self._clock = clock
        self._venue = venue
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        # unfilled (buy, sell) amounts of open orders per symbol, kept up to date so risk checks
        # and sizing read it in O(1) however many orders are open
        self._exposure: dict[str, list[Decimal]] = {}
        self._fill_keys: set[tuple[str, str]] = set()
        self.anomalies: list[str] = []
        venue.bind(self, clock)

    # -- commands from the core ---------------------------------------------------------------

    def submit(self, order: Order) -> None:
        if order.client_order_id in self._orders:
            raise DuplicateClientOrderId(order.client_order_id)
        self._orders[order.client_order_id] = order
        self._open[order.client_order_id] = order
        self._add_exposure(order, order.amount)
        order.transition(OrderStatus.SUBMITTED)
        if self._bus.wants(OrderSubmitted):  # per-order events: built only if someone listens
            self._bus.publish(OrderSubmitted(order, self._clock.now_ms()))
        self._venue.submit_order(order)

    def cancel(self, order: Order) -> None:
        """Request a cancel; the order is PENDING_CANCEL until the venue answers."""
        if not order.is_open or order.status is OrderStatus.PENDING_CANCEL:
            return
        if order.status is OrderStatus.SUBMITTED:
            # not acknowledged yet: the venue still gets the request (it may be in flight)
            self._venue.cancel_order(order)
            return
        order.transition(OrderStatus.PENDING_CANCEL)
        self._venue.cancel_order(order)

    def modify(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> bool:
        """Request a new amount and/or price; PENDING_UPDATE until the venue answers.

        Returns False (nothing sent) if the order is closed, not acknowledged yet, or already
        waiting for a cancel or modify answer: one request in flight per order.
        """
        if order.status not in _MODIFIABLE:
            logger.info(
                "modify of order {} not sent: it is {}", order.client_order_id, order.status
            )
            return False
        order.transition(OrderStatus.PENDING_UPDATE)
        self._venue.modify_order(order, amount=amount, price=price)
        return True

    # -- views ----------------------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    @property
    def all_orders(self) -> list[Order]:
        return list(self._orders.values())

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if symbol is None or o.symbol == symbol]

    def open_exposure(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Unfilled (buy, sell) amounts of open orders in `symbol`: exposure not yet in fills."""
        exposure = self._exposure.get(symbol)
        return (exposure[0], exposure[1]) if exposure is not None else (ZERO, ZERO)

    def symbols_with_open_orders(self) -> set[str]:
        return {symbol for symbol, (buys, sells) in self._exposure.items() if buys or sells}

    # -- reports from the venue (VenueReports) ------------------------------------------------

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        order = self._known(client_order_id, "acceptance")
        if order is None:
            return
        order.venue_order_id = venue_order_id
        order.transition(OrderStatus.ACCEPTED)
        if self._bus.wants(OrderAccepted):  # per-order events: built only if someone listens
            self._bus.publish(OrderAccepted(order, self._clock.now_ms()))

    def order_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        order = self._known(client_order_id, "rejection")
        if order is None:
            return
        order.transition(OrderStatus.REJECTED)
        order.reject_reason = reason
        order.reject_detail = detail
        self._close(order)
        self._bus.publish(OrderRejected(order, reason, detail, self._clock.now_ms()))

    def order_filled(self, fill: Fill) -> None:
        order = self._known(fill.client_order_id, f"fill {fill.trade_id}")
        if order is None:
            return
        # Trade ids are unique per symbol at best, and a self-trade gives both our orders the
        # same one: a fill is the pair (order, trade id).
        key = (fill.client_order_id, fill.trade_id)
        if key in self._fill_keys:
            logger.debug(
                "ignored repeated fill {} of order {}", fill.trade_id, order.client_order_id
            )
            return
        late = not order.is_open
        try:
            order.apply_fill(fill)
        except OverfillError as error:
            self._anomaly(str(error))
            return
        self._fill_keys.add(key)
        if order.client_order_id in self._open:
            self._add_exposure(order, -fill.amount)
        if late:
            self._anomaly(
                f"fill {fill.trade_id} of {fill.amount} arrived after order {order.client_order_id} "
                f"was {order.status}: applied (the venue executed it)"
            )
        if order.status is OrderStatus.FILLED:
            self._close(order)
        self._bus.publish(OrderFilled(order, fill))

    def order_triggered(self, client_order_id: str) -> None:
        order = self._known(client_order_id, "trigger")
        if order is None:
            return
        if order.status is OrderStatus.PENDING_UPDATE or order.status is OrderStatus.PENDING_CANCEL:
            order.status_before_pending = OrderStatus.TRIGGERED
        else:
            order.transition(OrderStatus.TRIGGERED)
        if self._bus.wants(OrderTriggered):  # per-order events: built only if someone listens
            self._bus.publish(OrderTriggered(order, self._clock.now_ms()))

    def order_modified(self, client_order_id: str, amount: Decimal, price: Decimal | None) -> None:
        order = self._known(client_order_id, "modification")
        if order is None:
            return
        if order.is_open:
            self._add_exposure(order, amount - order.amount)
        order.amount = amount
        if price is not None:
            if order.order_type.has_limit_price:
                order.price = price
            else:
                order.trigger_price = price
        order.restore_after_pending()
        if self._bus.wants(OrderModified):  # per-order events: built only if someone listens
            self._bus.publish(OrderModified(order, self._clock.now_ms()))

    def cancel_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._request_refused(client_order_id, "cancel", reason, detail)

    def modify_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._request_refused(client_order_id, "modify", reason, detail)

    def _request_refused(
        self, client_order_id: str, request: str, reason: RejectionReason, detail: str
    ) -> None:
        order = self._known(client_order_id, f"{request} refusal")
        if order is None:
            return
        order.restore_after_pending()
        logger.info("{} of order {} refused: {} ({})", request, client_order_id, reason, detail)
        self._bus.publish(OrderRequestRefused(order, request, reason, detail, self._clock.now_ms()))

    def order_canceled(self, client_order_id: str, detail: str) -> None:
        order = self._known(client_order_id, "cancel")
        if order is None:
            return
        order.transition(OrderStatus.CANCELED)
        self._close(order)
        self._bus.publish(OrderCanceled(order, detail, self._clock.now_ms()))

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        order = self._known(client_order_id, "expiry")
        if order is None:
            return
        order.transition(OrderStatus.EXPIRED)
        order.reject_reason = reason
        order.reject_detail = detail
        self._close(order)
        self._bus.publish(OrderExpired(order, reason, detail, self._clock.now_ms()))

    # -- internals ------------------------------------------------------------------------------

    def _known(self, client_order_id: str, what: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is None:
            self._anomaly(f"venue reported {what} for unknown order {client_order_id}")
        return order

    def _close(self, order: Order) -> None:
        if self._open.pop(order.client_order_id, None) is not None:
            self._add_exposure(order, -order.remaining)

    def _add_exposure(self, order: Order, amount: Decimal) -> None:
        exposure = self._exposure.get(order.symbol)
        if exposure is None:
            exposure = self._exposure[order.symbol] = [ZERO, ZERO]
        exposure[0 if order.side is _BUY else 1] += amount

    def _anomaly(self, message: str) -> None:
        self.anomalies.append(message)
        logger.error("order anomaly: {}", message)
