"""Between ccxt's unified structures and the bot's domain objects: markets, create arguments,
fills, and the `VenueOrderSnapshot` reconciliation reads. Pure functions, no I/O.

Numbers arrive as the venue wrote them (the client is built with `number = str`) and become
`Decimal`s here; nothing passes through a binary float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.venues.base import VenueOrderSnapshot

S = OrderStatus
# ccxt's unified order status -> ours for a closed order (an open one is refined by fills)
CLOSED_STATUS: dict[str, OrderStatus] = {
    "closed": S.FILLED,
    "canceled": S.CANCELED,
    "cancelled": S.CANCELED,
    "expired": S.EXPIRED,
    "rejected": S.REJECTED,
}
_ORDER_TYPE = {
    OrderType.MARKET: "market",
    OrderType.LIMIT: "limit",
    OrderType.STOP_MARKET: "market",
    OrderType.STOP_LIMIT: "limit",
}


def decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
    if value is None or value == "":
        return default
    return Decimal(str(value))


def market_from_ccxt(info: dict[str, Any], precision_mode: int) -> Market:
    """Our `Market` (steps, minimums, fees) from a ccxt market structure."""
    precision = info.get("precision") or {}
    limits = info.get("limits") or {}
    return Market.for_symbol(
        info["symbol"],
        amount_step=_step(precision.get("amount"), precision_mode),
        price_step=_step(precision.get("price"), precision_mode),
        min_amount=decimal((limits.get("amount") or {}).get("min"), ZERO) or ZERO,
        min_notional=decimal((limits.get("cost") or {}).get("min"), ZERO) or ZERO,
        maker_fee=decimal(info.get("maker"), ZERO) or ZERO,
        taker_fee=decimal(info.get("taker"), ZERO) or ZERO,
    )


def _step(value: Any, precision_mode: int) -> Decimal:
    if value is None:
        return ZERO  # no grid known: the venue checks
    if precision_mode == ccxt.DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(Decimal(str(value))))
    if precision_mode == ccxt.TICK_SIZE:
        return Decimal(str(value))
    return ZERO  # significant digits: no fixed step


def create_args(order: Order) -> dict[str, Any]:
    """Keyword arguments of `exchange.create_order` for `order`, our client order id included."""
    params: dict[str, Any] = {"clientOrderId": order.client_order_id}
    if order.trigger_price is not None:
        params["stopLossPrice"] = str(order.trigger_price)
    if order.post_only:
        params["postOnly"] = True
    if order.order_type.has_limit_price and order.time_in_force is not TimeInForce.GTC:
        params["timeInForce"] = order.time_in_force.value.upper()
    return {
        "symbol": order.symbol,
        "type": _ORDER_TYPE[order.order_type],
        "side": order.side.value,
        "amount": str(order.amount),
        "price": str(order.price) if order.price is not None else None,
        "params": params,
    }


def fill_from_trade(
    trade: dict[str, Any], order: Order, *, default_ts_ms: int, default_taker: bool
) -> Fill:
    """A `Fill` of `order` from a ccxt trade structure (its fee in whatever asset the venue
    charged it)."""
    fee = trade.get("fee") or {}
    amount = decimal(trade.get("amount"), ZERO) or ZERO
    price = decimal(trade.get("price"), ZERO) or ZERO
    maker = trade.get("takerOrMaker")
    liquidity = (
        LiquiditySide.MAKER
        if maker == "maker" or (maker is None and not default_taker)
        else LiquiditySide.TAKER
    )
    return Fill(
        str(trade["id"]),
        order.client_order_id,
        order.symbol,
        order.side,
        amount,
        price,
        decimal(fee.get("cost"), ZERO) or ZERO,
        str(fee.get("currency") or order.symbol.split("/")[1].split(":")[0]),
        liquidity,
        int(trade.get("timestamp") or default_ts_ms),
    )


def side_of(value: str) -> Side:
    return Side.BUY if value == "buy" else Side.SELL


def order_type_of(info: dict[str, Any]) -> OrderType:
    trigger = info.get("triggerPrice") or info.get("stopPrice")
    limit = info.get("type") in ("limit", "limit_maker", "stop_loss_limit", "stop_limit")
    if trigger:
        return OrderType.STOP_LIMIT if limit else OrderType.STOP_MARKET
    return OrderType.LIMIT if limit else OrderType.MARKET


def snapshot_from_ccxt(
    client_order_id: str, view: dict[str, Any], trades: list[dict[str, Any]], now_ms: int
) -> VenueOrderSnapshot:
    """What the venue says about one order, from a ccxt order and its trades; `now_ms` stamps a
    trade the venue gave no timestamp."""
    symbol = str(view["symbol"])
    side = side_of(str(view.get("side")))
    amount = decimal(view.get("amount")) or Decimal(0)
    probe = Order(client_order_id, symbol, side, order_type_of(view), amount, 0, "")
    fills = tuple(
        fill_from_trade(t, probe, default_ts_ms=now_ms, default_taker=True) for t in trades
    )
    filled = decimal(view.get("filled")) or Decimal(0)
    status = CLOSED_STATUS.get(str(view.get("status")))
    if status is None:
        status = S.PARTIALLY_FILLED if filled > 0 else S.ACCEPTED
    elif status is S.FILLED and filled < amount:
        status = S.CANCELED  # closed short of its amount: the venue ended it
    return VenueOrderSnapshot(
        client_order_id,
        str(view.get("id")),
        symbol,
        side,
        probe.order_type,
        amount,
        decimal(view.get("price")) if probe.order_type.has_limit_price else None,
        decimal(view.get("triggerPrice")),
        status,
        filled,
        fills,
        RejectionReason.INVALID_ORDER if status is S.REJECTED else None,
        str((view.get("info") or {}).get("status", "")),
    )
