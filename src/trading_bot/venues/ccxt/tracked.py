"""What the venue has said about one of our orders, turned into reports exactly once.

A live venue tells the same story several times and out of order: the create response, the
order stream, the trade stream and polling all describe the same order. `OrderTracker` reads
each description against what it has reported (and, for acknowledgements, against the
order's status, which reconciliation may have moved) and reports only what is new: accepted
once, each trade once (by trade id), the closing status once and only after every fill the
venue counted has been reported. Finished orders are kept for a while (late trades, cancels
racing a fill), the most recent `KEEP_FINISHED` of them: memory stays bounded.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from loguru import logger

from trading_bot.domain.enums import Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.venues.base import VenueReports
from trading_bot.venues.ccxt.translate import CLOSED_STATUS, decimal, fill_from_trade

S = OrderStatus
S_BUY = Side.BUY
KEEP_FINISHED = 10_000
_NOT_ACKNOWLEDGED = frozenset({S.INITIALIZED, S.SUBMITTED})


@dataclass(slots=True)
class TrackedOrder:
    order: Order
    sent_ms: int
    venue_ids: list[str] = field(default_factory=list)  # a modify (cancel-replace) adds one
    trade_ids: set[str] = field(default_factory=set)
    reported: Decimal = ZERO  # filled amount reported so far
    filled_before: Decimal = ZERO  # filled by venue orders this one replaced
    accepted_reported: bool = False
    canceled: bool = False
    closed_reported: bool = False
    replacing: str | None = None  # the venue id a modify in flight is replacing
    limit: Decimal | None = None  # the limit price the venue holds now (a modify moves it)

    @property
    def venue_id(self) -> str | None:
        return self.venue_ids[-1] if self.venue_ids else None


def _client_id_of(view: dict[str, Any]) -> object:
    """The client order id of the order `view` describes. A Binance cancel answer names the
    order in `origClientOrderId` and the cancel request itself in `clientOrderId`, which is
    what ccxt's parsed order carries: the order's own id is read first when the venue sent it,
    so a cancel of our order is not taken for an update about another one."""
    info = view.get("info")
    original = info.get("origClientOrderId") if isinstance(info, dict) else None
    return original or view.get("clientOrderId")


class OrderTracker:
    def __init__(self, reports: VenueReports) -> None:
        self.reports = reports
        self.orders: dict[str, TrackedOrder] = {}
        self._by_venue_id: dict[str, str] = {}
        self._finished: deque[TrackedOrder] = deque()

    def track(self, order: Order, sent_ms: int) -> TrackedOrder:
        """Follow `order`; one already followed keeps its record, with `sent_ms` moved on (a
        restart re-sending an intent: the receive window runs from this send)."""
        tracked = self.orders.get(order.client_order_id)
        if tracked is None:
            tracked = self.orders[order.client_order_id] = TrackedOrder(
                order, sent_ms, limit=order.price
            )
            if order.venue_order_id:
                self.add_venue_id(tracked, order.venue_order_id)
        else:
            tracked.sent_ms = max(tracked.sent_ms, sent_ms)
        return tracked

    def by_venue_id(self, venue_id: str) -> TrackedOrder | None:
        coid = self._by_venue_id.get(venue_id)
        return self.orders.get(coid) if coid is not None else None

    def open_orders(self) -> list[TrackedOrder]:
        return [t for t in self.orders.values() if not t.closed_reported]

    # -- reading the venue ----------------------------------------------------------------------

    def apply_order(self, tracked: TrackedOrder, view: dict[str, Any], now_ms: int) -> bool:
        """Report what `view` (a ccxt order) adds. False when the venue counts fills not
        reported yet: fetch the order's trades, apply them, then apply the view again."""
        order = tracked.order
        if not self._ours(tracked, _client_id_of(view), view.get("id")):
            return True
        venue_id = view.get("id")
        if venue_id:
            self.add_venue_id(tracked, str(venue_id))
        status = view.get("status")
        if status != "rejected" and venue_id and not tracked.accepted_reported:
            tracked.accepted_reported = True
            if order.status in _NOT_ACKNOWLEDGED:  # reconciliation may have told it already
                self.reports.order_accepted(order.client_order_id, str(venue_id))
        for trade in view.get("trades") or ():
            if trade.get("id") is not None:
                self.apply_trade(tracked, trade, now_ms, taker=True)
        filled = tracked.filled_before + (decimal(view.get("filled"), ZERO) or ZERO)
        if filled > tracked.reported:
            return False
        closing = CLOSED_STATUS.get(str(status))
        if closing is S.CANCELED and venue_id is not None and venue_id == tracked.replacing:
            return True  # the cancel half of a modify in flight: its outcome decides
        if closing is not None and venue_id == tracked.venue_id:
            self._close(tracked, closing, view)
        return True

    def apply_trade(
        self, tracked: TrackedOrder, trade: dict[str, Any], now_ms: int, *, taker: bool
    ) -> None:
        trade_id = str(trade["id"])
        if trade_id in tracked.trade_ids:
            return
        info = trade.get("info")
        client_id = info.get("c") if isinstance(info, dict) else None  # Binance stream trades
        if not self._ours(tracked, client_id, trade.get("order")):
            return
        fill: Fill = fill_from_trade(
            trade, tracked.order, default_ts_ms=now_ms, default_taker=taker
        )
        if fill.amount <= 0:
            return
        limit = tracked.limit
        if limit is not None and (fill.price > limit if fill.side is S_BUY else fill.price < limit):
            logger.error(
                "venue reported trade {} at {} for order {} whose limit is {}: not ours (a "
                "venue that reused order ids?); ignored",
                trade_id,
                fill.price,
                tracked.order.client_order_id,
                limit,
            )
            return
        tracked.trade_ids.add(trade_id)
        tracked.reported += fill.amount
        self.reports.order_filled(fill)
        if tracked.reported >= tracked.order.amount:
            self._finish(tracked)

    def reject(self, tracked: TrackedOrder, reason: RejectionReason, detail: str) -> None:
        self._finish(tracked)
        if tracked.order.status is S.SUBMITTED or tracked.order.status is S.INITIALIZED:
            self.reports.order_rejected(tracked.order.client_order_id, reason, detail)

    # -- internals ------------------------------------------------------------------------------

    def _ours(self, tracked: TrackedOrder, client_id: object, venue_id: object) -> bool:
        """An update names our order by its client order id when it can: one naming another
        (a venue that forgot its orders and reuses their ids) is not applied."""
        if not client_id or str(client_id) == tracked.order.client_order_id:
            return True
        logger.error(
            "venue update for order id {} names client order id {}, not {}: ignored (a venue "
            "that reused order ids?)",
            venue_id,
            client_id,
            tracked.order.client_order_id,
        )
        return False

    def _close(self, tracked: TrackedOrder, closing: OrderStatus, view: dict[str, Any]) -> None:
        order = tracked.order
        if tracked.closed_reported or not order.is_open:
            self._finish(tracked)
            return
        coid = order.client_order_id
        detail = str((view.get("info") or {}).get("status") or view.get("status"))
        if closing is S.FILLED:
            if tracked.reported < order.amount:
                return  # the venue says closed but fills are missing: wait for them
        elif closing is S.CANCELED:
            tracked.canceled = True
            self.reports.order_canceled(coid, f"venue status {detail}")
        elif closing is S.EXPIRED:
            self.reports.order_expired(
                coid, RejectionReason.WOULD_NOT_FILL, f"venue status {detail}"
            )
        else:
            self.reports.order_rejected(
                coid, RejectionReason.INVALID_ORDER, f"venue status {detail}"
            )
        self._finish(tracked)

    def _finish(self, tracked: TrackedOrder) -> None:
        if tracked.closed_reported:
            return
        tracked.closed_reported = True
        self._finished.append(tracked)
        while len(self._finished) > KEEP_FINISHED:
            old = self._finished.popleft()
            coid = old.order.client_order_id
            if self.orders.get(coid) is old and old.closed_reported:
                del self.orders[coid]
                for venue_id in old.venue_ids:
                    if self._by_venue_id.get(venue_id) == coid:
                        del self._by_venue_id[venue_id]

    def add_venue_id(self, tracked: TrackedOrder, venue_id: str) -> None:
        if venue_id not in tracked.venue_ids:
            tracked.venue_ids.append(venue_id)
            self._by_venue_id[venue_id] = tracked.order.client_order_id
