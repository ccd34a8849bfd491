"""Converting between domain objects and store rows, in one place.

The builders run for every order change and fill of a running bot, so they read an enum
member's value as `_value_` (an attribute; `.value` is a property, two Python calls, about 25
reads per signal) and format money that cannot be None with `str` (what `money` does).
"""

from __future__ import annotations

from typing import Any

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.store.upsert import money

# what can change after an order is created (the rest is fixed at its intent)
ORDER_CHANGES = (
    "amount",
    "price",
    "trigger_price",
    "timeout_at_ms",
    "status",
    "venue_order_id",
    "filled_amount",
    "filled_notional",
    "fees",
    "reject_reason",
    "reject_detail",
    "updated_ms",
)


def order_row(order: Order, now_ms: int) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "signal_source": order.source,
        "signal_id": order.signal_id,
        "leg": order.leg,
        "strategy": order.strategy,
        "user": order.user,
        "symbol": order.symbol,
        "side": order.side._value_,
        "order_type": order.order_type._value_,
        "amount": str(order.amount),
        "price": money(order.price),
        "trigger_price": money(order.trigger_price),
        "time_in_force": order.time_in_force._value_,
        "post_only": order.post_only,
        "oco_group": order.oco_group,
        "expires_at_ms": order.expires_at_ms,
        "timeout_at_ms": order.timeout_at_ms,
        "status": order.status._value_,
        "venue_order_id": order.venue_order_id,
        "filled_amount": str(order.filled_amount),
        "filled_notional": str(order.filled_notional),
        "fees": str(order.fees),
        "reject_reason": order.reject_reason._value_ if order.reject_reason else None,
        "reject_detail": order.reject_detail,
        "created_ms": order.created_ms,
        "updated_ms": now_ms,
    }


def order_changes(order: Order, now_ms: int) -> tuple[Any, ...]:
    """The `ORDER_CHANGES` values of an order whose row exists, then its key."""
    return (
        str(order.amount),
        money(order.price),
        money(order.trigger_price),
        order.timeout_at_ms,
        order.status._value_,
        order.venue_order_id,
        str(order.filled_amount),
        str(order.filled_notional),
        str(order.fees),
        order.reject_reason._value_ if order.reject_reason else None,
        order.reject_detail,
        now_ms,
        order.client_order_id,
    )


def order_from_row(row: Any) -> Order:
    return Order(
        client_order_id=row.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        order_type=OrderType(row.order_type),
        amount=row.amount,
        created_ms=row.created_ms,
        signal_id=row.signal_id,
        source=row.signal_source,
        strategy=row.strategy,
        price=row.price,
        trigger_price=row.trigger_price,
        time_in_force=TimeInForce(row.time_in_force),
        post_only=row.post_only,
        oco_group=row.oco_group,
        expires_at_ms=row.expires_at_ms,
        leg=row.leg,
        user=row.user,
        timeout_at_ms=row.timeout_at_ms,
        timed_out=False,
        status=OrderStatus(row.status),
        venue_order_id=row.venue_order_id,
        filled_amount=row.filled_amount,
        filled_notional=row.filled_notional,
        fees=row.fees,
        reject_reason=RejectionReason(row.reject_reason) if row.reject_reason else None,
        reject_detail=row.reject_detail or "",
        sent_ms=row.updated_ms,  # sends are write-ahead: none happened after this write
    )


def fill_row(fill: Fill) -> dict[str, Any]:
    return {
        "client_order_id": fill.client_order_id,
        "trade_id": fill.trade_id,
        "symbol": fill.symbol,
        "side": fill.side._value_,
        "amount": str(fill.amount),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "fee_asset": fill.fee_asset,
        "liquidity": fill.liquidity._value_,
        "ts_ms": fill.ts_ms,
    }


def fill_from_row(row: Any) -> Fill:
    return Fill(
        row.trade_id,
        row.client_order_id,
        row.symbol,
        Side(row.side),
        row.amount,
        row.price,
        row.fee,
        row.fee_asset,
        LiquiditySide(row.liquidity),
        row.ts_ms,
    )
