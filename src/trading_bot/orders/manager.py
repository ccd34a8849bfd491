"""The order manager: the one owner of order state.

Execution algorithms hand it new orders; venues report back to it (it implements
`VenueReports`). It applies each report to the order's state machine, refuses what cannot be
true (a second fill with the same trade id, an overfill, a fill for an order it never sent) and
publishes the resulting events for the portfolio and the signal ledger.

Every change is recorded in the journal. A new order is sent to the venue only once the
journal says its intent is durable (write-ahead), so a crash at any point leaves either no
order or a recorded one that recovery can look up at the venue by its client order id.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from loguru import logger
from mypy_extensions import mypyc_attr

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
from trading_bot.engine.journal import Journal, NullJournal
from trading_bot.engine.planned import PlannedExposure
from trading_bot.orders.oco import OcoEmulation
from trading_bot.venues.base import Venue

_MODIFIABLE: Final = frozenset(
    {OrderStatus.ACCEPTED, OrderStatus.TRIGGERED, OrderStatus.PARTIALLY_FILLED}
)
_BUY: Final = Side.BUY  # `Side.BUY` is a slow class attribute lookup on Python 3.11


class DuplicateClientOrderId(Exception):
    """An order with this client order id was already sent: it is never sent twice."""


@mypyc_attr(allow_interpreted_subclasses=True)
class OrderManager:
    def __init__(
        self, bus: EventBus, clock: Clock, venue: Venue, journal: Journal | None = None
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._venue = venue
        self._journal: Journal = journal if journal is not None else NullJournal()
        self._journaling = not isinstance(self._journal, NullJournal)
        self._orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}
        # unfilled (buy, sell) amounts of open orders per symbol, kept up to date so risk checks
        # and sizing read it in O(1) however many orders are open
        self._exposure: dict[str, list[Decimal]] = {}
        self.planned = PlannedExposure()  # unsent iceberg/TWAP amounts, counted as exposure
        # what each applied fill said, by (order, trade id): a repeat is ignored, a repeat that
        # says something else is an anomaly
        self._fills_seen: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]] = {}
        self.anomalies: list[str] = []
        # the legs of an OCO group are linked here when the venue does not link them itself
        self.oco: OcoEmulation | None = None if venue.links_oco else OcoEmulation(self)
        # asked before each send; a venue that refuses nothing on the spot (the simulated one)
        # is not asked, so a backtest's order path pays nothing for it
        self._refusal = venue.refusal if type(venue).refusal is not Venue.refusal else None
        venue.bind(self, clock)

    # -- commands from the core ---------------------------------------------------------------

    def submit(self, order: Order) -> None:
        """Track a new order and send it once its intent is durable. Its exposure counts from
        now, so risk checks see it even before the venue does."""
        if order.client_order_id in self._orders:
            raise DuplicateClientOrderId(order.client_order_id)
        self._track(order)
        if order.oco_group is not None and self.oco is not None:
            self.oco.add(order)
        self._journal.order_created(order)
        self._schedule_timeout(order)
        self._journal.when_durable(lambda: self._send(order))

    def _send(self, order: Order) -> None:
        if order.status is not OrderStatus.INITIALIZED:
            return  # canceled before its intent was committed: it never leaves
        refusal = self._refusal(order) if self._refusal is not None else None
        if refusal is not None:  # it never leaves either: rejected, never reported as sent
            self.order_rejected(
                order.client_order_id, refusal.reason, f"not sent: {refusal.detail}"
            )
            return
        order.transition(OrderStatus.SUBMITTED)
        self._record(order, "submitted")
        if self._bus.wants(OrderSubmitted):  # per-order events: built only if someone listens
            self._bus.publish(OrderSubmitted(order, self._clock.now_ms()))
        self._venue.submit_order(order)

    def cancel(self, order: Order) -> None:
        """Request a cancel; the order is PENDING_CANCEL until the venue answers."""
        if not order.is_open or order.status is OrderStatus.PENDING_CANCEL:
            return
        if order.status is OrderStatus.INITIALIZED:
            # never sent: canceled here, and `_send` will find it closed
            order.transition(OrderStatus.CANCELED)
            self._close(order)
            self._record(order, "canceled", "canceled before it was sent")
            self._bus.publish(
                OrderCanceled(order, "canceled before it was sent", self._clock.now_ms())
            )
            return
        if order.status is OrderStatus.SUBMITTED:
            # not acknowledged yet: the venue still gets the request (it may be in flight),
            # after a resend of the order still waiting on the store, never before it
            self._record(order, "cancel_requested")
            self._journal.when_durable(lambda: self._venue.cancel_order(order))
            return
        order.transition(OrderStatus.PENDING_CANCEL)
        self._record(order, "pending_cancel")
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
        self._record(order, "pending_update", f"amount={amount} price={price}")
        self._venue.modify_order(order, amount=amount, price=price)
        return True

    # -- recovery -------------------------------------------------------------------------------

    def restore(self, order: Order, fills: list[Fill]) -> None:
        """Take back an order loaded from the store, with its known fills, so a fill reported
        again after the restart is recognised as a repeat."""
        self._orders[order.client_order_id] = order
        if order.oco_group is not None and self.oco is not None:
            self.oco.add(order)  # a restart keeps the legs of a group linked
        if order.is_open:
            self._open[order.client_order_id] = order
            self._add_exposure(order, order.remaining)
            deadline = order.timeout_at_ms
            if deadline is not None and deadline <= self._clock.now_ms():
                # past its deadline: timed out (derived, not stored), so that the cancel
                # recovery may find at the venue is treated as the timeout's
                order.timed_out = True
                self._clock.schedule_after(0, lambda: self.cancel(order))
            else:
                self._schedule_timeout(order)
        for fill in fills:
            self._fills_seen[(fill.client_order_id, fill.trade_id)] = _terms(fill)

    def adopt(self, order: Order) -> None:
        """Track an order found open at the venue that the bot has no record of."""
        self._track(order)
        order.transition(OrderStatus.SUBMITTED)
        self._journal.order_created(order)
        self._record(order, "adopted", "found open at the venue, unknown to the store")

    def mark_sent(self, order: Order) -> None:
        """The venue has an order whose sending was not recorded (a crash right after it)."""
        order.transition(OrderStatus.SUBMITTED)
        self._record(order, "submitted", "found at the venue")

    def send_unacknowledged(self, order: Order) -> None:
        """Send an order whose intent was recorded but which the venue does not have.

        Only recovery calls this, after the venue answered that it has no order with this
        client order id and can no longer receive the earlier request: sending it now is the
        first time the venue gets it, not a duplicate. The send waits until the store has
        this moment (`sent_ms`, the row's write): a restart right after it then waits out
        the receive window of this request too before deciding the venue never got it.
        """
        order.sent_ms = self._clock.now_ms()
        self._record(order, "resubmitted", "the venue had no record of it")
        if order.status is OrderStatus.INITIALIZED:
            self._journal.when_durable(lambda: self._send(order))
        else:
            self._journal.when_durable(lambda: self._venue.submit_order(order))

    def record(self, order: Order, event: str, detail: str = "") -> None:
        """Journal an event about `order` decided outside the manager (recovery)."""
        self._record(order, event, detail)

    # -- views ----------------------------------------------------------------------------------

    def get(self, client_order_id: str) -> Order | None:
        return self._orders.get(client_order_id)

    @property
    def all_orders(self) -> list[Order]:
        return list(self._orders.values())

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self._open.values() if symbol is None or o.symbol == symbol]

    def open_exposure(self, symbol: str) -> tuple[Decimal, Decimal]:
        """Unfilled (buy, sell) amounts of open orders in `symbol`, plus what running
        algorithms still plan to send there (`planned`): exposure not yet in fills.
        Contingent orders (a stop, either leg of an OCO pair: a bracket's take-profit and
        stop-loss) are left out: they fill only if the market gets there, and then at most one
        leg of a pair. Counted as pending, a protected long's two exit legs made a target of 0
        look already reached twice over."""
        exposure = self._exposure.get(symbol)
        buys, sells = (exposure[0], exposure[1]) if exposure is not None else (ZERO, ZERO)
        if self.planned:
            planned_buys, planned_sells = self.planned.exposure(symbol)
            return buys + planned_buys, sells + planned_sells
        return buys, sells

    def count_created_since(self, since_ms: int, stop_at: int) -> int:
        """How many orders were created at or after `since_ms`, counting no further than
        `stop_at`. Orders are kept in submission order, so this walks back from the newest
        and costs O(stop_at), not O(all orders)."""
        count = 0
        for order in reversed(self._orders.values()):
            if order.created_ms < since_ms or count >= stop_at:
                break
            count += 1
        return count

    def symbols_with_open_orders(self) -> set[str]:
        """Symbols with open orders that count as exposure (contingent ones do not), or with
        planned exposure."""
        open_ = {symbol for symbol, (buys, sells) in self._exposure.items() if buys or sells}
        return open_ | self.planned.symbols() if self.planned else open_

    # -- reports from the venue (VenueReports) ------------------------------------------------

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        order = self._reported(client_order_id, "acceptance")
        if order is None:
            return
        order.venue_order_id = venue_order_id
        order.transition(OrderStatus.ACCEPTED)
        self._record(order, "accepted")
        if self._bus.wants(OrderAccepted):  # per-order events: built only if someone listens
            self._bus.publish(OrderAccepted(order, self._clock.now_ms()))
        if order.oco_group is not None and self.oco is not None:
            self.oco.review(order)

    def order_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        # not `_reported`: a refusal before sending (`_send`) rejects an unsent order too
        order = self._known(client_order_id, "rejection")
        if order is None:
            return
        order.transition(OrderStatus.REJECTED)
        order.reject_reason = reason
        order.reject_detail = detail
        self._close(order)
        self._record(order, "rejected", f"{reason}: {detail}")
        self._bus.publish(OrderRejected(order, reason, detail, self._clock.now_ms()))

    def order_filled(self, fill: Fill) -> None:
        order = self._reported(fill.client_order_id, f"fill {fill.trade_id}")
        if order is None:
            return
        # Trade ids are unique per symbol at best, and a self-trade gives both our orders the
        # same one: a fill is the pair (order, trade id).
        key = (fill.client_order_id, fill.trade_id)
        seen = self._fills_seen.get(key)
        if seen is not None:
            if seen != _terms(fill):
                self._anomaly(
                    f"fill {fill.trade_id} of order {order.client_order_id} reported again with "
                    f"different terms: {fill.amount} at {fill.price} fee {fill.fee}, first "
                    f"{seen[0]} at {seen[1]} fee {seen[2]}; the first is kept"
                )
            else:
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
        self._fills_seen[key] = _terms(fill)
        self._journal.fill_applied(fill)
        if order.client_order_id in self._open:
            self._add_exposure(order, -fill.amount)
        if late:
            self._anomaly(
                f"fill {fill.trade_id} of {fill.amount} arrived after order {order.client_order_id} "
                f"was {order.status}: applied (the venue executed it)"
            )
        if order.status is OrderStatus.FILLED:
            self._close(order)
        if self._journaling:  # the detail text is not free: built only when it is kept
            self._record(order, "fill", f"{fill.trade_id}: {fill.amount} at {fill.price}")
        self._bus.publish(OrderFilled(order, fill))
        if order.oco_group is not None and self.oco is not None:
            self.oco.filled(order)

    def order_triggered(self, client_order_id: str) -> None:
        order = self._reported(client_order_id, "trigger")
        if order is None:
            return
        if order.status is OrderStatus.PENDING_UPDATE or order.status is OrderStatus.PENDING_CANCEL:
            order.status_before_pending = OrderStatus.TRIGGERED
        else:
            order.transition(OrderStatus.TRIGGERED)
        self._record(order, "triggered")
        if self._bus.wants(OrderTriggered):  # per-order events: built only if someone listens
            self._bus.publish(OrderTriggered(order, self._clock.now_ms()))
        if order.oco_group is not None and self.oco is not None:
            self.oco.triggered(order)

    def order_modified(self, client_order_id: str, amount: Decimal, price: Decimal | None) -> None:
        order = self._reported(client_order_id, "modification")
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
        if self._journaling:
            self._record(order, "modified", f"amount={amount} price={price}")
        if self._bus.wants(OrderModified):  # per-order events: built only if someone listens
            self._bus.publish(OrderModified(order, self._clock.now_ms()))
        if order.oco_group is not None and self.oco is not None:
            self.oco.review(order)

    def cancel_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._request_refused(client_order_id, "cancel", reason, detail)

    def modify_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        order = self._request_refused(client_order_id, "modify", reason, detail)
        if order is not None and order.oco_group is not None and self.oco is not None:
            self.oco.modify_refused(order)

    def _request_refused(
        self, client_order_id: str, request: str, reason: RejectionReason, detail: str
    ) -> Order | None:
        order = self._known(client_order_id, f"{request} refusal")
        if order is None:
            return None
        order.restore_after_pending()
        self._record(order, f"{request}_refused", f"{reason}: {detail}")
        logger.info("{} of order {} refused: {} ({})", request, client_order_id, reason, detail)
        self._bus.publish(OrderRequestRefused(order, request, reason, detail, self._clock.now_ms()))
        return order

    def order_canceled(self, client_order_id: str, detail: str) -> None:
        order = self._reported(client_order_id, "cancel")
        if order is None:
            return
        order.transition(OrderStatus.CANCELED)
        self._close(order)
        self._record(order, "canceled", detail)
        self._bus.publish(OrderCanceled(order, detail, self._clock.now_ms()))

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        order = self._reported(client_order_id, "expiry")
        if order is None:
            return
        order.transition(OrderStatus.EXPIRED)
        order.reject_reason = reason
        order.reject_detail = detail
        self._close(order)
        self._record(order, "expired", f"{reason}: {detail}")
        self._bus.publish(OrderExpired(order, reason, detail, self._clock.now_ms()))

    # -- internals ------------------------------------------------------------------------------

    def _track(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        self._open[order.client_order_id] = order
        self._add_exposure(order, order.amount)

    def _record(self, order: Order, event: str, detail: str = "") -> None:
        if self._journaling:  # a backtest keeps no journal: not even the clock is read
            self._journal.order_changed(order, event, detail, self._clock.now_ms())

    def _schedule_timeout(self, order: Order) -> None:
        if order.timeout_at_ms is not None and not order.timed_out:
            self._clock.schedule_at(order.timeout_at_ms, lambda: self._time_out(order))

    def _time_out(self, order: Order) -> None:
        if not order.is_open or order.timed_out:
            return
        order.timed_out = True
        self._record(order, "timed_out", f"unfilled at {order.timeout_at_ms}")
        self.cancel(order)

    def _reported(self, client_order_id: str, what: str) -> Order | None:
        """The order a venue report is about. One the store has as never sent was sent all
        the same, by the bot's previous run just before it stopped (the record of the send
        did not make it): the report proves it, and the order is marked sent first (as
        recovery does when it finds such an order at the venue)."""
        order = self._orders.get(client_order_id)
        if order is None:
            self._anomaly(f"venue reported {what} for unknown order {client_order_id}")
        elif order.status is OrderStatus.INITIALIZED:
            self.mark_sent(order)
        return order

    def _known(self, client_order_id: str, what: str) -> Order | None:
        order = self._orders.get(client_order_id)
        if order is None:
            self._anomaly(f"venue reported {what} for unknown order {client_order_id}")
        return order

    def _close(self, order: Order) -> None:
        if self._open.pop(order.client_order_id, None) is not None:
            self._add_exposure(order, -order.remaining)

    def _add_exposure(self, order: Order, amount: Decimal) -> None:
        if order.oco_group is not None or order.trigger_price is not None:
            return  # contingent: see `open_exposure`
        exposure = self._exposure.get(order.symbol)
        if exposure is None:
            exposure = self._exposure[order.symbol] = [ZERO, ZERO]
        exposure[0 if order.side is _BUY else 1] += amount

    def _anomaly(self, message: str) -> None:
        self.anomalies.append(message)
        logger.error("order anomaly: {}", message)


def _terms(fill: Fill) -> tuple[Decimal, Decimal, Decimal]:
    return fill.amount, fill.price, fill.fee
