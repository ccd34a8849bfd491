"""One log line per order event in a running bot: what a trader reads to follow it, numbers
as a trader writes them (0.01 at 46448, not 0.010000 at 46448.00000000).

Backtests do not subscribe (a million-bar run would print a million lines); `trading-bot
run` does, for paper and live alike.
"""

from __future__ import annotations

from loguru import logger

from trading_bot.domain.events import (
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderSubmitted,
)
from trading_bot.domain.money import format_decimal
from trading_bot.domain.order import Order
from trading_bot.engine.bus import EventBus


def log_order_events(bus: EventBus) -> None:
    bus.subscribe(OrderSubmitted, _submitted)
    bus.subscribe(OrderFilled, _filled)
    bus.subscribe(OrderCanceled, _canceled)
    bus.subscribe(OrderRejected, _rejected)
    bus.subscribe(OrderExpired, _expired)
    bus.subscribe(OrderModified, _modified)


def _name(order: Order) -> str:
    return f"order {order.client_order_id} ({order.source}/{order.signal_id})"


def _submitted(event: OrderSubmitted) -> None:
    order = event.order
    price = f" at {format_decimal(order.price)}" if order.price is not None else ""
    trigger = (
        f" trigger {format_decimal(order.trigger_price)}" if order.trigger_price is not None else ""
    )
    logger.info(
        "{} sent: {} {} {} {}{}{}",
        _name(order),
        order.side.value,
        format_decimal(order.amount),
        order.symbol,
        order.order_type.value,
        price,
        trigger,
    )


def _filled(event: OrderFilled) -> None:
    fill, order = event.fill, event.order
    logger.info(
        "{} filled {} at {} (fee {} {}, {}); {} of {} filled, {}",
        _name(order),
        format_decimal(fill.amount),
        format_decimal(fill.price),
        format_decimal(fill.fee),
        fill.fee_asset,
        fill.liquidity.value,
        format_decimal(order.filled_amount),
        format_decimal(order.amount),
        order.status.value,
    )


def _canceled(event: OrderCanceled) -> None:
    logger.info("{} canceled: {}", _name(event.order), event.detail)


def _rejected(event: OrderRejected) -> None:
    logger.warning("{} rejected: {} ({})", _name(event.order), event.reason.value, event.detail)


def _expired(event: OrderExpired) -> None:
    logger.info("{} expired: {} ({})", _name(event.order), event.reason.value, event.detail)


def _modified(event: OrderModified) -> None:
    order = event.order
    price = format_decimal(order.price) if order.price is not None else None
    logger.info(
        "{} modified: amount {} price {}", _name(order), format_decimal(order.amount), price
    )
