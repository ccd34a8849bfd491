"""Small closed vocabularies shared across the domain."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction a fill moves the position."""
        return 1 if self is _BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"

    @property
    def has_limit_price(self) -> bool:
        return self in _LIMIT_PRICED

    @property
    def has_trigger(self) -> bool:
        return self in _TRIGGERED


# members as module constants: a member read off its class (`Side.BUY`) is a slow attribute
# lookup on Python 3.11, whose enum metaclass defines __getattr__
_BUY: Final = Side.BUY
_LIMIT_PRICED: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT})
_TRIGGERED: Final = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT})


class TimeInForce(StrEnum):
    """GTC rests until filled or canceled; IOC fills what it can at once and cancels the rest;
    FOK fills entirely at once or not at all."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class LiquiditySide(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class TradingMode(StrEnum):
    BACKTEST = "backtest"
    PAPER = "paper"
    LIVE = "live"
