"""The simulated venue's account: total and reserved balance per asset.

Open orders reserve what they could spend (quote for buys, base for sells), so the free
balance is what a new order can use, as on a real venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from trading_bot.domain.money import ZERO


class SimulatedAccount:
    def __init__(self, balances: Mapping[str, Decimal]) -> None:
        self.total: dict[str, Decimal] = dict(balances)
        self.reserved: dict[str, Decimal] = {}
        # bumped by every change: a free-balance check stays valid while it is unchanged
        self.version = 0

    def free(self, asset: str) -> Decimal:
        return self.total.get(asset, ZERO) - self.reserved.get(asset, ZERO)

    def reserve(self, asset: str, amount: Decimal) -> bool:
        """Set `amount` aside for an order; False (nothing reserved) if not free."""
        if amount > self.free(asset):
            return False
        self.reserved[asset] = self.reserved.get(asset, ZERO) + amount
        self.version += 1
        return True

    def release(self, asset: str, amount: Decimal) -> None:
        self.version += 1
        left = self.reserved.get(asset, ZERO) - amount
        if left > 0:
            self.reserved[asset] = left
        else:
            self.reserved.pop(asset, None)

    def settle(self, base: str, base_change: Decimal, quote: str, quote_change: Decimal) -> None:
        """Book a trade: the base and quote balances move by the signed changes."""
        self.version += 1
        total = self.total
        total[base] = total.get(base, ZERO) + base_change
        total[quote] = total.get(quote, ZERO) + quote_change
