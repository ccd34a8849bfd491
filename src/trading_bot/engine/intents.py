"""Turning a signal into a trade intent: which side, how much base amount, at what reference."""

from __future__ import annotations

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.context import TradingContext

# the signal's order_type literals to the enum without an enum call (slow) per signal
_ORDER_TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT}
_LIMIT = OrderType.LIMIT


def build_intent(signal: Signal, context: TradingContext) -> TradeIntent | Rejection:
    """Size `signal` against the current market and holdings.

    - `size` is used as is.
    - `notional` is converted at the reference price: the signal's `price` if it has one, else
      the last known market price (never a future one).
    - `target_position` trades the difference between the target and the position the bot will
      hold once its open orders fill; a target already held is `nothing_to_do`.
    """
    symbol = signal.asset
    if context.market(symbol) is None:
        return Rejection(RejectionReason.UNKNOWN_ASSET, f"the venue lists no market {symbol}")
    price = signal.price
    reference = price if price is not None else context.prices.last_price(symbol)
    order_type = _ORDER_TYPES.get(signal.order_type) or OrderType(signal.order_type)
    limit_price = price if order_type is _LIMIT else None

    if signal.target_position is not None:
        buys, sells = context.orders.open_exposure(symbol)
        expected = context.portfolio.position_quantity(symbol) + buys - sells
        delta = signal.target_position - expected
        if delta == 0:
            return Rejection(
                RejectionReason.NOTHING_TO_DO,
                f"{symbol} position is already {signal.target_position}",
            )
        side = Side.BUY if delta > 0 else Side.SELL
        return TradeIntent(signal, symbol, side, abs(delta), order_type, reference, limit_price)

    side = signal.side
    assert side is not None  # the signal contract guarantees it without a target
    size = signal.size
    if size is not None:
        return TradeIntent(signal, symbol, side, size, order_type, reference, limit_price)
    if reference is None:
        return Rejection(
            RejectionReason.NO_MARKET_DATA,
            f"no price for {symbol} yet to convert notional {signal.notional} into an amount",
        )
    assert signal.notional is not None
    return TradeIntent(
        signal, symbol, side, signal.notional / reference, order_type, reference, limit_price
    )
