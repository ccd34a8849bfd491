"""Price rules of the simulated venue: marketability, trade-through tests on scaled integer
arrays, and slippage."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from trading_bot.domain.enums import Side
from trading_bot.domain.market import Market
from trading_bot.domain.money import ceil_to_step, floor_to_step
from trading_bot.venues.simulated.params import SlippageModel

BPS = Decimal(10_000)
_BUY = Side.BUY


def marketable(side: Side, limit: Decimal, price: Decimal) -> bool:
    """Would a limit order at `limit` trade against the market at `price`?"""
    return price <= limit if side is _BUY else price >= limit


def passes_through(side: Side, limit: Decimal, price: Decimal, *, touch: bool) -> bool:
    """Did the market at `price` trade through (or, with `touch`, reach) a resting limit?"""
    if side is _BUY:
        return price <= limit if touch else price < limit
    return price >= limit if touch else price > limit


def scaled_bound(value: Decimal, scale: int, *, upper: bool) -> int:
    """`value` x 10**scale rounded so integer comparisons stay exact: rounded up for strict
    "below" / inclusive "at or above" tests (`upper=True`), down for the others."""
    scaled = value.scaleb(scale)
    return int(scaled.to_integral_value(rounding=ROUND_CEILING if upper else ROUND_FLOOR))


def slipped(
    price: Decimal,
    side: Side,
    model: SlippageModel,
    market: Market,
    share_of_volume: Decimal | None,
) -> Decimal:
    """The taker's fill price after slippage, on the price grid, never better than `price`."""
    if model.model == "none" or model.bps == 0:
        return price
    bps = model.bps
    if model.model == "volume":
        bps = model.bps * (share_of_volume if share_of_volume is not None else Decimal(1))
        if model.max_bps is not None:
            bps = min(bps, model.max_bps)
    if side is Side.BUY:
        return ceil_to_step(price * (1 + bps / BPS), market.price_step)
    return floor_to_step(price * (1 - bps / BPS), market.price_step)
