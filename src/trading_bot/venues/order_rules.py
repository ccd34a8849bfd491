"""What a venue refuses on sight, with the reasons a real venue gives: the simulated venue
enforces it, a live venue checks it before sending (ccxt would otherwise round quietly)."""

from __future__ import annotations

from decimal import Decimal

from trading_bot.domain.enums import OrderType, TimeInForce
from trading_bot.domain.market import Market
from trading_bot.domain.money import is_multiple_of
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason as R

Problem = tuple[R, str]
_LIMIT, _MARKET, _GTC = OrderType.LIMIT, OrderType.MARKET, TimeInForce.GTC


def invalid_order(order: Order, market: Market) -> Problem | None:
    """The first thing wrong with `order` as sent to `market` (fields that do not fit its type,
    prices off the grid, amounts under the market's minimums), or None."""
    kind = order.order_type
    if kind is _MARKET:  # the same checks as below, in order, for the type with no prices
        if order.post_only:
            return R.INVALID_ORDER, "post-only applies to GTC limit orders only"
        if order.oco_group is not None:
            return R.INVALID_ORDER, "a market order cannot be an OCO leg"
        return rules_problem(market, order.amount, order.trigger_price, order.trigger_price)
    if kind.has_limit_price and order.price is None:
        return R.INVALID_ORDER, f"a {kind} order needs a price"
    if kind.has_trigger and order.trigger_price is None:
        return R.INVALID_ORDER, f"a {kind} order needs a trigger price"
    if order.post_only and (kind is not _LIMIT or order.time_in_force is not _GTC):
        return R.INVALID_ORDER, "post-only applies to GTC limit orders only"
    if order.oco_group is not None and kind is _MARKET:
        return R.INVALID_ORDER, "a market order cannot be an OCO leg"
    priced = order.price if kind.has_limit_price else order.trigger_price
    return rules_problem(market, order.amount, priced, order.trigger_price)


def rules_problem(
    market: Market, amount: Decimal, price: Decimal | None, trigger: Decimal | None = None
) -> Problem | None:
    """Price grid, amount step, minimum amount and (when priced) minimum notional."""
    for value in (price, trigger):
        if value is None:
            continue
        if value <= 0:  # a venue's price filter (Binance PRICE_FILTER) refuses it as such
            return R.INVALID_PRICE_PRECISION, f"price {value} is not above zero"
        if not is_multiple_of(value, market.price_step):
            return (
                R.INVALID_PRICE_PRECISION,
                f"price {value} is not on the {market.price_step} grid",
            )
    problem = market.check_order(amount, price)
    if problem is None:
        return None
    value = f" (notional {amount * price})" if price is not None else ""
    return problem, (
        f"amount {amount}{value} breaks {market.symbol} rules: step {market.amount_step}, "
        f"min amount {market.min_amount}, min notional {market.min_notional}"
    )
