"""Turning a signal into trade intents: which side, how much base amount, at what reference."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import split_symbol
from trading_bot.domain.money import ZERO, format_decimal
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.domain.signal import Signal
from trading_bot.engine.context import TradingContext

# the signal's order_type literals to the enum without an enum call (slow) per signal
_ORDER_TYPES: Final = {"market": OrderType.MARKET, "limit": OrderType.LIMIT}
_LIMIT: Final = OrderType.LIMIT


def expected_position(context: TradingContext, symbol: str) -> Decimal:
    """The position the bot will hold once its open orders fill: what a target is measured
    against, so a target sent twice while the first order is in flight trades once."""
    buys, sells = context.orders.open_exposure(symbol)
    return context.portfolio.position_quantity(symbol) + buys - sells


def orders_past_target(context: TradingContext, symbol: str, target: Decimal) -> list[Order]:
    """Resting limit orders in `symbol` that would take the position away from `target`: buys
    when the target is below what the bot will hold, sells when above. A target says where
    the position must end, so these are canceled (`TradingKernel`) and the target is measured
    without them: "go flat" with a resting buy cancels the buy and sells what is held, rather
    than selling the buy's amount too. Market orders in flight are about to fill (a cancel
    would race the fill), so they count as filled; contingent orders (stops, OCO legs)
    protect a position and stay; so does what running iceberg/TWAP plans still intend to
    send."""
    expected = expected_position(context, symbol)
    if target == expected:
        return []
    away = Side.BUY if target < expected else Side.SELL
    return [
        order
        for order in context.orders.open_orders(symbol)
        if order.side is away
        and order.order_type is OrderType.LIMIT
        and order.trigger_price is None
        and order.oco_group is None
        and order.status is not OrderStatus.PENDING_CANCEL
    ]


def build_intents(
    signal: Signal, context: TradingContext, overridden: Sequence[Order] = ()
) -> tuple[list[TradeIntent], Rejection | None]:
    """Size `signal` against the current market and holdings.

    Returns the intents to run, in order, and why (part of) the signal cannot be traded.

    - `size` is used as is.
    - `notional` is converted at the reference price: the signal's `price` if it has one, else
      the last known market price (never a future one).
    - `target_position` trades the difference between the target and the expected position
      (see `expected_position`), leaving out `overridden`: the open orders the caller cancels
      for it (`orders_past_target`); a target already held is `nothing_to_do`. A target on the
      other side of zero is a reversal and becomes two intents, the close (back to flat) and
      then the open: each is judged by the risk checks for what it is, so the close passes
      checks that let reducing orders through even when new exposure is blocked. On a spot
      account a short sells base the account must hold: a sell below zero for more than the
      base balance left after open sells is refused (`short_not_possible`) before any order,
      while the close part of a reversal still goes out.
    """
    symbol = signal.asset
    if context.market(symbol) is None:
        return [], Rejection(RejectionReason.UNKNOWN_ASSET, f"the venue lists no market {symbol}")
    price = signal.price
    reference = price if price is not None else context.prices.last_price(symbol)
    order_type = _ORDER_TYPES.get(signal.order_type) or OrderType(signal.order_type)
    limit_price = price if order_type is _LIMIT else None

    target = signal.target_position
    if target is not None:
        expected = expected_position(context, symbol)
        for order in overridden:
            expected -= order.remaining if order.side is Side.BUY else -order.remaining
        if target == expected:
            return [], Rejection(
                RejectionReason.NOTHING_TO_DO, f"{symbol} position is already {target}"
            )
        side = Side.BUY if target > expected else Side.SELL
        crosses_zero = expected * target < 0  # a reversal: close, then open
        legs = [abs(expected), abs(target)] if crosses_zero else [abs(target - expected)]
        intents = [
            TradeIntent(signal, symbol, side, amount, order_type, reference, limit_price)
            for amount in legs
        ]
        if side is Side.SELL and target < 0:
            refusal = _short_refusal(context, symbol, sum(legs, ZERO), legs[-1])
            if refusal is not None:
                return intents[:-1] if len(legs) == 2 else [], refusal
        return intents, None

    signal_side = signal.side
    assert signal_side is not None  # the signal contract guarantees it without a target
    size = signal.size
    if size is not None:
        return [
            TradeIntent(signal, symbol, signal_side, size, order_type, reference, limit_price)
        ], None
    if reference is None:
        return [], Rejection(
            RejectionReason.NO_MARKET_DATA,
            f"no price for {symbol} yet to convert notional {signal.notional} into an amount",
        )
    assert signal.notional is not None
    amount = signal.notional / reference
    return [
        TradeIntent(signal, symbol, signal_side, amount, order_type, reference, limit_price)
    ], None


def unfunded_spot_sell(context: TradingContext, intent: TradeIntent) -> Rejection | None:
    """Why a sell on a spot symbol cannot be delivered: it asks for more base than the
    account holds free, what open sells (and planned iceberg/TWAP sells) already need taken
    off (None: it can). Refused here, before anything is sent, because an order the venue is
    bound to refuse would meanwhile count as pending: a `target_position` arriving before the
    venue's answer would trade against a position that is never going to exist (a sell of
    0.6 with 0.517 held made a following target 0 buy 0.583). The caller checks only sells
    on spot symbols (no `:`): derivatives sell on margin, and buys are the venue's to judge."""
    symbol = intent.symbol
    base = symbol.partition("/")[0]
    held = context.portfolio.balance(base)
    needed = context.orders.open_exposure(symbol)[1]
    free = held - needed
    if intent.amount <= free:
        return None
    amount, held_text, needed_text = (format_decimal(v) for v in (intent.amount, held, needed))
    return Rejection(
        RejectionReason.INSUFFICIENT_BALANCE,
        f"selling {amount} {base} on {symbol} needs {amount} {base}, the spot account has "
        f"{format_decimal(max(free, ZERO))} {base} free ({held_text} held, {needed_text} needed "
        "by open sells)",
    )


def _short_refusal(
    context: TradingContext, symbol: str, selling: Decimal, short_part: Decimal
) -> Rejection | None:
    """Why a sell of `selling` base, whose last `short_part` goes below a flat position,
    cannot be delivered from the spot balance (None: it can). The bot's positions count its
    own trades, so base the account started with may be sold short; borrowing is not."""
    base = split_symbol(symbol)[0]
    available = context.portfolio.balance(base) - context.orders.open_exposure(symbol)[1]
    if selling <= available:
        return None
    return Rejection(
        RejectionReason.SHORT_NOT_POSSIBLE,
        f"going {short_part} {base} short on {symbol} needs {selling} {base} to sell, the spot "
        f"account has {max(available, ZERO)} {base} free",
    )
