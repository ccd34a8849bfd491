"""A fill: one execution of (part of) an order at a venue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading_bot.domain.enums import LiquiditySide, Side


@dataclass(slots=True, unsafe_hash=True, init=False)
class Fill:
    """`trade_id` is the venue's id of the execution and the key fills are de-duplicated on.

    A fact: nothing assigns to a fill's fields (the manager, the portfolio and events share it).
    Not a frozen dataclass only because building one costs about five times as much, and one
    is built per execution; it hashes by value as a frozen one would. Its `__init__` is
    written out, as `Order`'s (a test holds it to the fields): compiled, it is far cheaper.
    """

    trade_id: str
    client_order_id: str
    symbol: str
    side: Side
    amount: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    liquidity: LiquiditySide
    ts_ms: int

    def __init__(
        self,
        trade_id: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        amount: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_asset: str,
        liquidity: LiquiditySide,
        ts_ms: int,
    ) -> None:
        self.trade_id = trade_id
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.amount = amount
        self.price = price
        self.fee = fee
        self.fee_asset = fee_asset
        self.liquidity = liquidity
        self.ts_ms = ts_ms

    @property
    def notional(self) -> Decimal:
        return self.amount * self.price
