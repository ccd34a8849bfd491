"""A trade intent: a signal turned into a concrete side and base amount, before risk and execution."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.signal import Signal

_BUY = Side.BUY


class TradeIntent(NamedTuple):
    """What the bot means to trade for one signal.

    `reference_price` is the price the intent was sized with (the signal's price or the last
    known market price); risk checks value the intent with it. Immutable: a risk check that
    resizes returns a new intent, so no check ever changes what the caller holds. A named
    tuple, not a frozen dataclass: one is built per signal and this costs a quarter as much.
    """

    signal: Signal
    symbol: str
    side: Side
    amount: Decimal
    order_type: OrderType
    reference_price: Decimal | None
    limit_price: Decimal | None = None

    def resized(self, amount: Decimal) -> TradeIntent:
        return self._replace(amount=amount)

    @property
    def signed_amount(self) -> Decimal:
        return self.amount if self.side is _BUY else -self.amount
