"""A running bot logs each order event once, in a line a trader can read."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from tests.conftest import T0
from trading_bot.domain.enums import LiquiditySide, OrderType, Side
from trading_bot.domain.events import OrderFilled, OrderSubmitted
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.engine.bus import EventBus
from trading_bot.monitoring.order_log import log_order_events


def test_a_sent_and_filled_order_is_logged_with_its_signal_terms_and_fee() -> None:
    bus = EventBus()
    log_order_events(bus)
    order = Order(
        "tb-1-0", "BTC/USDT", Side.BUY, OrderType.MARKET, Decimal("0.01"), T0, "s1", source="hook"
    )
    fill = Fill(
        "7",
        "tb-1-0",
        "BTC/USDT",
        Side.BUY,
        Decimal("0.01"),
        Decimal("46000"),
        Decimal("0.46"),
        "USDT",
        LiquiditySide.TAKER,
        T0,
    )
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}")
    try:
        bus.publish(OrderSubmitted(order, T0))
        bus.publish(OrderFilled(order, fill))
    finally:
        logger.remove(sink)
    assert lines[0].strip() == "order tb-1-0 (hook/s1) sent: buy 0.01 BTC/USDT market"
    assert lines[1].startswith("order tb-1-0 (hook/s1) filled 0.01 at 46000 (fee 0.46 USDT, taker)")
