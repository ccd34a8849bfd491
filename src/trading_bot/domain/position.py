"""A position: the bot's own net exposure in one market, built from fills only.

Realized P&L is FIFO: a fill that reduces the position closes the oldest open lots first and
realizes (fill price - lot price) x closed amount, signed by the position's direction. With
lots, every P&L figure is an exact product of Decimals, never a quotient, so it matches a
hand calculation to the last decimal. Fees are not part of it; they are accounted separately.

For spot accounts the position measures what the bot traded, relative to the starting
balances: selling inventory the account started with shows as a short position while the
balance stays positive.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Final

from trading_bot.domain.enums import Side
from trading_bot.domain.money import ZERO

_WIDE: Final = Context(prec=50)
_BUY: Final = Side.BUY


@dataclass(slots=True, init=False)
class Lot:
    """`__init__` written out: compiled, far cheaper than the generated one."""

    amount: Decimal
    price: Decimal

    def __init__(self, amount: Decimal, price: Decimal) -> None:
        self.amount = amount
        self.price = price


@dataclass(slots=True)
class Position:
    symbol: str
    quantity: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    lots: deque[Lot] = field(default_factory=deque)

    @property
    def is_open(self) -> bool:
        return self.quantity != 0

    @property
    def average_entry_price(self) -> Decimal:
        """Amount-weighted price of the open lots (0 when flat). For display: P&L uses lots."""
        if self.quantity == 0:
            return ZERO
        cost = sum((lot.amount * lot.price for lot in self.lots), ZERO)
        return _WIDE.divide(cost, abs(self.quantity)).normalize()

    def apply_fill(self, side: Side, amount: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; return the P&L it realized (0 when it only adds)."""
        held = self.quantity
        signed = amount if side is _BUY else -amount
        if held == 0 or (held > 0) == (signed > 0):
            self.lots.append(Lot(amount, price))
            self.quantity = held + signed
            return ZERO
        direction = 1 if held > 0 else -1
        remaining = amount
        realized = ZERO
        lots = self.lots
        while remaining > 0 and lots:
            lot = lots[0]
            take = min(lot.amount, remaining)
            realized += (price - lot.price) * take * direction
            lot.amount -= take
            remaining -= take
            if lot.amount == 0:
                lots.popleft()
        if remaining > 0:  # the fill flipped the position: the rest opens a new lot
            lots.append(Lot(remaining, price))
        self.quantity = held + signed
        self.realized_pnl += realized
        return realized

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        direction = 1 if self.quantity > 0 else -1
        return sum(((mark_price - lot.price) * lot.amount * direction for lot in self.lots), ZERO)
