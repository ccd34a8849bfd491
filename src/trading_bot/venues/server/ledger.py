"""The venue's books in Binance's terms: order records, trades, and user-stream events.

`VenueLedger` is the `VenueReports` the matching engine (`SimulatedExchange`) reports to, so
everything the engine does lands here first: each report updates the Binance order record
(orderId, status, executedQty, cummulativeQuoteQty, fills) and produces the
`executionReport` and `outboundAccountPosition` events the user data stream pushes.

Events of an order the client has not been answered about yet are held back: if the order is
refused before the answer (an error reply, as Binance gives), it never existed, and nothing
about it may have been pushed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from trading_bot.domain.enums import LiquiditySide, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.venues.server.formats import num
from trading_bot.venues.simulated.account import SimulatedAccount

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})
UserEvent = dict[str, Any]


@dataclass(slots=True)
class SpotTrade:
    trade_id: int
    order_id: int
    symbol: str
    market_id: str
    side: Side
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time_ms: int
    is_maker: bool

    def as_binance(self) -> dict[str, Any]:
        return {
            "symbol": self.market_id,
            "id": self.trade_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "price": num(self.price),
            "qty": num(self.qty),
            "quoteQty": num(self.price * self.qty),
            "commission": num(self.commission),
            "commissionAsset": self.commission_asset,
            "time": self.time_ms,
            "isBuyer": self.side is Side.BUY,
            "isMaker": self.is_maker,
            "isBestMatch": True,
        }


@dataclass(slots=True, eq=False)
class SpotOrder:
    order_id: int
    client_order_id: str
    symbol: str
    market_id: str
    side: Side
    type: str  # MARKET, LIMIT, LIMIT_MAKER, STOP_LOSS, STOP_LOSS_LIMIT
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    stop_price: Decimal
    orig_quote_qty: Decimal
    created_ms: int
    order: Order  # the domain order given to the matching engine
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cumm_quote: Decimal = ZERO
    update_ms: int = 0
    working_ms: int = -1
    accepted: bool = False
    accepted_ms: int = -1  # when the matching engine acknowledged it (it arrived)
    reason: RejectionReason | None = None
    detail: str = ""
    trades: list[SpotTrade] = field(default_factory=list)
    published: bool = False
    pending: list[UserEvent] = field(default_factory=list)
    cancel_refused: str | None = None
    shadowed: SpotOrder | None = None  # an older closed order with the same client id
    progress: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def as_binance(self) -> dict[str, Any]:
        """The order as GET /api/v3/order shows it."""
        return {
            "symbol": self.market_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            **self._terms(),
            "stopPrice": num(self.stop_price),
            "icebergQty": num(ZERO),
            "time": self.created_ms,
            "updateTime": self.update_ms or self.created_ms,
            "isWorking": self.working_ms >= 0,
            "workingTime": self.working_ms,
        }

    def _terms(self) -> dict[str, Any]:
        """What every Binance description of an order carries: its terms and progress."""
        return {
            "price": num(self.price),
            "origQty": num(self.orig_qty),
            "executedQty": num(self.executed_qty),
            "origQuoteOrderQty": num(self.orig_quote_qty),
            "cummulativeQuoteQty": num(self.cumm_quote),
            "status": self.status,
            "timeInForce": self.time_in_force,
            "type": self.type,
            "side": self.side.upper(),
            "selfTradePreventionMode": "NONE",
        }

    def placed_reply(self, resp_type: str, transact_ms: int) -> dict[str, Any]:
        """The answer to POST /api/v3/order in `newOrderRespType` ACK, RESULT or FULL."""
        ack = {
            "symbol": self.market_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": self.client_order_id,
            "transactTime": transact_ms,
        }
        if resp_type == "ACK":
            return ack
        result = {**ack, **self._terms(), "workingTime": self.working_ms}
        if self.stop_price:
            result["stopPrice"] = num(self.stop_price)
        if resp_type == "FULL":
            result["fills"] = [
                {
                    "price": num(t.price),
                    "qty": num(t.qty),
                    "commission": num(t.commission),
                    "commissionAsset": t.commission_asset,
                    "tradeId": t.trade_id,
                }
                for t in self.trades
            ]
        return result

    def canceled_reply(self, cancel_client_id: str, transact_ms: int) -> dict[str, Any]:
        """The answer to DELETE /api/v3/order."""
        return {
            "symbol": self.market_id,
            "origClientOrderId": self.client_order_id,
            "orderId": self.order_id,
            "orderListId": -1,
            "clientOrderId": cancel_client_id,
            "transactTime": transact_ms,
            **self._terms(),
            "stopPrice": num(self.stop_price),
        }


class VenueLedger:
    """Implements `VenueReports` for the matching engine; owns the Binance-side records."""

    def __init__(
        self, clock: Clock, account: SimulatedAccount, markets: Callable[[str], Market | None]
    ) -> None:
        self._clock = clock
        self._account = account
        self._markets = markets
        self.orders: dict[int, SpotOrder] = {}
        self.by_client_id: dict[str, SpotOrder] = {}
        # the matching engine knows each order by an id of the server's own (`engine_id`): a
        # client may reuse its ids, the engine takes each one once
        self._by_engine_id: dict[str, SpotOrder] = {}
        self.trades: list[SpotTrade] = []
        self.listeners: list[Callable[[UserEvent], None]] = []
        self._next_order_id = 0

    # -- records --------------------------------------------------------------------------------

    def next_order_id(self) -> int:
        self._next_order_id += 1
        return self._next_order_id

    def add(self, order: SpotOrder) -> None:
        order.shadowed = self.by_client_id.get(order.client_order_id)
        self.orders[order.order_id] = order
        self.by_client_id[order.client_order_id] = order
        self._by_engine_id[order.order.client_order_id] = order
        order.pending.insert(0, self._execution_report(order, "NEW"))

    def publish(self, order: SpotOrder) -> None:
        """The client has been answered: from now on its events go out as they happen."""
        if order.published:
            return
        order.published = True
        events, order.pending = order.pending, []
        events.append(self._account_position(order))
        for event in events:
            self._dispatch(event)

    def discard(self, order: SpotOrder) -> None:
        """An order refused before it was answered: it never existed."""
        self.orders.pop(order.order_id, None)
        self._by_engine_id.pop(order.order.client_order_id, None)
        if self.by_client_id.get(order.client_order_id) is order:
            if order.shadowed is not None:
                self.by_client_id[order.client_order_id] = order.shadowed
            else:
                del self.by_client_id[order.client_order_id]
        self.trades = [t for t in self.trades if t.order_id != order.order_id]
        order.pending = []

    def open_orders(self, symbol: str | None = None) -> list[SpotOrder]:
        return [
            o
            for o in self.orders.values()
            if o.is_open and o.published and (symbol is None or o.symbol == symbol)
        ]

    # -- VenueReports ---------------------------------------------------------------------------

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        order = self._order(client_order_id)
        if order is None:
            return
        order.accepted = True
        order.accepted_ms = self._clock.now_ms()
        if not order.order.order_type.has_trigger:
            order.working_ms = self._clock.now_ms()
        self._touch(order)
        self._emit(order, self._account_position(order))

    def order_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._close(client_order_id, "REJECTED", reason, detail)

    def order_filled(self, fill: Fill) -> None:
        order = self._order(fill.client_order_id)
        if order is None:
            return
        trade = SpotTrade(
            int(fill.trade_id.rsplit("-", 1)[-1]),
            order.order_id,
            order.symbol,
            order.market_id,
            fill.side,
            fill.price,
            fill.amount,
            fill.fee,
            fill.fee_asset,
            fill.ts_ms,
            fill.liquidity is LiquiditySide.MAKER,
        )
        order.trades.append(trade)
        self.trades.append(trade)
        order.executed_qty += fill.amount
        order.cumm_quote += fill.amount * fill.price
        if order.is_open:
            order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        self._touch(order)
        self._emit(order, self._execution_report(order, "TRADE", trade))
        self._emit(order, self._account_position(order))

    def order_triggered(self, client_order_id: str) -> None:
        order = self._order(client_order_id)
        if order is not None:
            order.working_ms = self._clock.now_ms()
            self._touch(order)

    def order_modified(self, client_order_id: str, amount: Decimal, price: Decimal | None) -> None:
        order = self._order(client_order_id)
        if order is not None:  # the server replaces orders (cancelReplace), never modifies
            order.orig_qty = amount
            if price is not None:
                order.price = price
            self._touch(order)

    def order_canceled(self, client_order_id: str, detail: str) -> None:
        self._close(client_order_id, "CANCELED", None, detail)

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._close(client_order_id, "EXPIRED", reason, detail)

    def cancel_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        order = self._order(client_order_id)
        if order is not None:
            order.cancel_refused = detail
            self._touch(order)

    def modify_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self.cancel_rejected(client_order_id, reason, detail)

    # -- internals ------------------------------------------------------------------------------

    def _order(self, engine_id: str) -> SpotOrder | None:
        return self._by_engine_id.get(engine_id)

    def _close(
        self, client_order_id: str, status: str, reason: RejectionReason | None, detail: str
    ) -> None:
        order = self._order(client_order_id)
        if order is None or not order.is_open:
            return
        order.status = status
        order.reason = reason
        order.detail = detail
        self._touch(order)
        self._emit(order, self._execution_report(order, status))
        self._emit(order, self._account_position(order))

    def _touch(self, order: SpotOrder) -> None:
        order.update_ms = self._clock.now_ms()
        order.progress.set()

    def _emit(self, order: SpotOrder, event: UserEvent) -> None:
        if order.published:
            self._dispatch(event)
        else:
            order.pending.append(event)

    def _dispatch(self, event: UserEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    def _execution_report(
        self, order: SpotOrder, execution: str, trade: SpotTrade | None = None
    ) -> UserEvent:
        now = self._clock.now_ms()
        status = "NEW" if execution == "NEW" else order.status
        return {
            "e": "executionReport",
            "E": now,
            "s": order.market_id,
            "c": order.client_order_id,
            "S": order.side.upper(),
            "o": order.type,
            "f": order.time_in_force,
            "q": num(order.orig_qty),
            "p": num(order.price),
            "P": num(order.stop_price),
            "F": num(ZERO),
            "g": -1,
            "C": "",
            "x": execution,
            "X": status,
            "r": str(order.reason).upper() if execution == "REJECTED" and order.reason else "NONE",
            "i": order.order_id,
            "l": num(trade.qty if trade else ZERO),
            "z": num(order.executed_qty if execution != "NEW" else ZERO),
            "L": num(trade.price if trade else ZERO),
            "n": num(trade.commission if trade else ZERO),
            "N": trade.commission_asset if trade else None,
            "T": trade.time_ms if trade else now,
            "t": trade.trade_id if trade else -1,
            "I": 0,
            "w": status in OPEN_STATUSES and order.working_ms >= 0,
            "m": trade.is_maker if trade else False,
            "M": False,
            "O": order.created_ms,
            "Z": num(order.cumm_quote if execution != "NEW" else ZERO),
            "Y": num(trade.price * trade.qty if trade else ZERO),
            "Q": num(order.orig_quote_qty),
            "W": order.working_ms,
            "V": "NONE",
        }

    def _account_position(self, order: SpotOrder) -> UserEvent:
        market = self._markets(order.symbol)
        assets = [market.base, market.quote] if market is not None else []
        now = self._clock.now_ms()
        return self.account_position(assets, now)

    def account_position(self, assets: list[str], now: int) -> UserEvent:
        account = self._account
        return {
            "e": "outboundAccountPosition",
            "E": now,
            "u": now,
            "B": [
                {
                    "a": asset,
                    "f": num(account.free(asset)),
                    "l": num(account.reserved.get(asset, ZERO)),
                }
                for asset in assets
            ],
        }
