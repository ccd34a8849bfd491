"""Flattening on halt: cancel every open order, then close the positions the bot's fills made.

The closing orders are market orders placed through the order manager like any other, so
they are journaled, reconciled and reported; they carry the source `kill_switch` and a
signal id naming the moment, which keeps their client order ids deterministic and distinct.

Spot: only long positions are closed (their base is sold back to the quote), and never for
more base than the account holds (a fee taken in the base leaves less than the position). A
negative spot position means base the account held before the bot started was sold; buying
it back would open exposure the bot never had, so it is left alone. Derivative symbols
(`BTC/USDT:USDT`) close both ways.

A remainder the market will not take (below its minimum amount or notional at the last
price) is left open with a warning naming it, instead of an order the venue would refuse.
"""

from __future__ import annotations

from loguru import logger

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.ids import client_order_id
from trading_bot.domain.order import Order
from trading_bot.engine.context import TradingContext
from trading_bot.orders.manager import OrderManager

FLATTEN_SOURCE = "kill_switch"


def flatten(context: TradingContext, orders: OrderManager, run: int) -> list[Order]:
    """Cancel all open orders and place the closing market orders; `run` numbers this flatten
    (several may share a millisecond). Returns the orders placed."""
    for order in orders.open_orders():
        if order.source != FLATTEN_SOURCE:
            orders.cancel(order)
    now = context.clock.now_ms()
    signal_id = f"flatten-{now}-{run}"
    placed: list[Order] = []
    for position in context.portfolio.open_positions():
        quantity = position.quantity
        if quantity < 0 and ":" not in position.symbol:
            continue
        market = context.market(position.symbol)
        amount = abs(quantity)
        if quantity > 0 and ":" not in position.symbol and market is not None:
            amount = min(amount, context.portfolio.balance(market.base))
        if market is not None:
            amount = market.round_amount(amount)
            refused = market.check_order(amount, context.prices.last_price(position.symbol))
            if refused is not None and amount > 0:
                logger.warning(
                    "flatten: {} {} left open: {} (the market's minimum amount is {}, "
                    "minimum notional {})",
                    abs(quantity),
                    position.symbol,
                    refused.value,
                    market.min_amount,
                    market.min_notional,
                )
                continue
        if amount <= 0:
            continue
        order = Order(
            client_order_id=client_order_id(FLATTEN_SOURCE, signal_id, len(placed)),
            symbol=position.symbol,
            side=Side.SELL if quantity > 0 else Side.BUY,
            order_type=OrderType.MARKET,
            amount=amount,
            created_ms=now,
            signal_id=signal_id,
            source=FLATTEN_SOURCE,
            leg=len(placed),
        )
        orders.submit(order)
        placed.append(order)
    logger.warning("flatten: {} closing order(s) placed", len(placed))
    return placed
