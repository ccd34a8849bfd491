"""Trading rules of one market (symbol) at one venue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading_bot.domain.money import ZERO, floor_to_step
from trading_bot.domain.rejections import RejectionReason


def split_symbol(symbol: str) -> tuple[str, str]:
    """`BTC/USDT` -> (`BTC`, `USDT`); a settle suffix (`BTC/USDT:USDT`) is ignored."""
    base, _, rest = symbol.partition("/")
    quote = rest.split(":", 1)[0]
    if not base or not quote:
        raise ValueError(f"expected a unified symbol like 'BTC/USDT', got {symbol!r}")
    return base, quote


@dataclass(frozen=True, slots=True)
class Market:
    """Precision (as step sizes), minimums and fee rates of a market.

    Steps follow ccxt's tick-size mode: `amount_step=0.001` means amounts are multiples of
    0.001. A step of 0 means no grid.
    """

    symbol: str
    base: str
    quote: str
    amount_step: Decimal = Decimal("0.00000001")
    price_step: Decimal = Decimal("0.00000001")
    min_amount: Decimal = ZERO
    min_notional: Decimal = ZERO
    maker_fee: Decimal = ZERO
    taker_fee: Decimal = ZERO

    @classmethod
    def for_symbol(cls, symbol: str, **rules: Decimal) -> Market:
        base, quote = split_symbol(symbol)
        return cls(symbol=symbol, base=base, quote=quote, **rules)

    def round_amount(self, amount: Decimal) -> Decimal:
        """Round an amount down to the step, so the bot never trades more than intended."""
        return floor_to_step(amount, self.amount_step)

    def check_order(self, amount: Decimal, price: Decimal | None) -> RejectionReason | None:
        """The first market rule an order of `amount` at `price` breaks, or None.

        `price` is the expected fill price; without it the notional rule cannot be checked.
        """
        step = self.amount_step
        if step > 0 and amount % step != 0:  # is_multiple_of, inline: checked twice per order
            return RejectionReason.INVALID_AMOUNT_PRECISION
        if amount <= 0 or amount < self.min_amount:
            return RejectionReason.BELOW_MIN_AMOUNT
        if price is not None and amount * price < self.min_notional:
            return RejectionReason.BELOW_MIN_NOTIONAL
        return None
