"""Splitting an amount into child orders that the market accepts, without losing any of it."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.intent import TradeIntent
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO, ceil_to_step, floor_to_step
from trading_bot.domain.rejections import Rejection, RejectionReason


def merge_small(chunks: Iterable[Decimal], market: Market, price: Decimal | None) -> list[Decimal]:
    """Fold each chunk the market would refuse (below `min_amount` or `min_notional` at
    `price`) into the next one, and a too-small tail into the last accepted chunk: the sum is
    unchanged, so no remainder is ever dropped."""
    merged: list[Decimal] = []
    pending = ZERO
    for chunk in chunks:
        pending += chunk
        if market.check_order(pending, price) is None:
            merged.append(pending)
            pending = ZERO
    if pending > 0:
        if merged:
            merged[-1] += pending
        else:
            merged.append(pending)
    return merged


def seeded_rng(seed: int, source: str, signal_id: str) -> random.Random:
    """A generator that draws the same numbers for the same signal in every run and
    process (`hash()` of a string is salted per process, so a digest is used)."""
    digest = hashlib.sha256(f"{seed}:{source}:{signal_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def child_price(intent: TradeIntent, market: Market) -> Decimal | None:
    """The limit price of child orders of a limit intent, on the market's grid in the
    trader's favour (a buy rounds down, a sell up); None for market children."""
    if intent.order_type is not OrderType.LIMIT or intent.limit_price is None:
        return None
    if intent.side is Side.BUY:
        return floor_to_step(intent.limit_price, market.price_step)
    return ceil_to_step(intent.limit_price, market.price_step)


def check_total(
    intent: TradeIntent, market: Market, amount: Decimal, price: Decimal | None
) -> Rejection | None:
    """Why the whole (rounded) amount cannot be traded at all, or None."""
    problem = market.check_order(amount, price)
    if problem is None:
        return None
    return Rejection(
        problem,
        f"{intent.symbol} {intent.side} {amount}: min amount {market.min_amount}, "
        f"min notional {market.min_notional}, amount step {market.amount_step}",
    )


def unknown_market(symbol: str) -> Rejection:
    return Rejection(RejectionReason.UNKNOWN_ASSET, f"no market {symbol}")


@dataclass(frozen=True, slots=True)
class ChildOrders:
    """What an algorithm that splits an intent into child orders starts from."""

    market: Market
    price: Decimal | None  # the children's limit price (None: market children)
    valued_at: Decimal | None  # the price their size is checked at
    total: Decimal  # the intent's amount on the market's amount grid


def size_children(intent: TradeIntent, market: Market | None) -> ChildOrders | Rejection:
    """The market, price and rounded total for `intent`'s child orders, or why the whole of it
    cannot be traded (no such market, below its minimums)."""
    if market is None:
        return unknown_market(intent.symbol)
    price = child_price(intent, market)
    valued_at = price if price is not None else intent.reference_price
    total = market.round_amount(intent.amount)
    problem = check_total(intent, market, total, valued_at)
    if problem is not None:
        return problem
    return ChildOrders(market, price, valued_at, total)
