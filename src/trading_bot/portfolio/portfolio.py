"""The bot's ledger of the account, updated from fills only.

Signals and intentions never move it: only executions reported by the venue do. After a run
it must equal the venue's own balances to the last decimal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from trading_bot.domain.enums import Side
from trading_bot.domain.events import OrderFilled
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import split_symbol
from trading_bot.domain.money import ZERO
from trading_bot.domain.position import Position

_BUY: Final = Side.BUY


@dataclass(frozen=True, slots=True)
class Valuation:
    """Account value in one currency; assets with no price in it are listed, not guessed."""

    currency: str
    total: Decimal
    unpriced_assets: tuple[str, ...]


def prices_in(prices: Mapping[str, Decimal], currency: str) -> dict[str, Decimal]:
    """Price per base asset of the markets quoted in `currency` (`BTC/USDT` and `BTC/USDT:USDT`
    both price BTC in USDT)."""
    by_asset: dict[str, Decimal] = {}
    for symbol, price in prices.items():
        base, quote = split_symbol(symbol)
        if quote == currency:
            by_asset.setdefault(base, price)
    return by_asset


def value_in(
    amounts: Mapping[str, Decimal], prices: Mapping[str, Decimal], currency: str
) -> Valuation:
    """Value amounts per asset in `currency` using `ASSET/currency` prices; assets with no such
    price (and a non-zero amount) are listed as unpriced."""
    total = ZERO
    unpriced: list[str] = []
    by_asset = prices_in(prices, currency)
    for asset, amount in sorted(amounts.items()):
        if asset == currency:
            total += amount
        elif amount == 0:
            continue
        elif (price := by_asset.get(asset)) is not None:
            total += amount * price
        else:
            unpriced.append(asset)
    return Valuation(currency, total, tuple(unpriced))


class Portfolio:
    def __init__(self, initial_balances: Mapping[str, Decimal]) -> None:
        self.initial_balances: dict[str, Decimal] = dict(initial_balances)
        self._balances: dict[str, Decimal] = dict(initial_balances)
        self._positions: dict[str, Position] = {}
        self._symbols: dict[str, tuple[str, str]] = {}
        self.fees_by_asset: dict[str, Decimal] = {}
        self.fills: list[Fill] = []

    def adjust_balance(self, asset: str, delta: Decimal) -> None:
        """Money that moved outside the bot (a deposit, a manual trade), accepted from the
        venue: counted as initial balance, so rebuilding from fills gives the same books."""
        self.initial_balances[asset] = self.initial_balances.get(asset, ZERO) + delta
        self._balances[asset] = self._balances.get(asset, ZERO) + delta

    def on_order_filled(self, event: OrderFilled) -> None:
        self.apply_fill(event.fill)

    def apply_fill(self, fill: Fill) -> None:
        symbol, side, amount, price, fee = fill.symbol, fill.side, fill.amount, fill.price, fill.fee
        base, quote = self._symbols.get(symbol) or self._assets(symbol)
        balances = self._balances
        notional = amount * price
        if side is _BUY:
            balances[base] = balances.get(base, ZERO) + amount
            balances[quote] = balances.get(quote, ZERO) - notional
        else:
            balances[base] = balances.get(base, ZERO) - amount
            balances[quote] = balances.get(quote, ZERO) + notional
        if fee:
            fee_asset = fill.fee_asset
            balances[fee_asset] = balances.get(fee_asset, ZERO) - fee
            self.fees_by_asset[fee_asset] = self.fees_by_asset.get(fee_asset, ZERO) + fee
        position = self._positions.get(symbol)
        if position is None:
            position = self._positions[symbol] = Position(symbol)
        position.apply_fill(side, amount, price)
        self.fills.append(fill)

    # -- views ----------------------------------------------------------------------------------

    def balance(self, asset: str) -> Decimal:
        return self._balances.get(asset, ZERO)

    @property
    def balances(self) -> dict[str, Decimal]:
        return dict(self._balances)

    def position(self, symbol: str) -> Position | None:
        return self._positions.get(symbol)

    def position_quantity(self, symbol: str) -> Decimal:
        position = self._positions.get(symbol)
        return position.quantity if position is not None else ZERO

    @property
    def positions(self) -> dict[str, Position]:
        return dict(self._positions)

    def open_positions(self) -> list[Position]:
        return [p for p in self._positions.values() if p.is_open]

    def realized_pnl(self, symbol: str) -> Decimal:
        position = self._positions.get(symbol)
        return position.realized_pnl if position is not None else ZERO

    def unrealized_pnl(self, prices: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Unrealized P&L per open position (in its quote asset) at the given marks."""
        return {
            symbol: position.unrealized_pnl(prices[symbol])
            for symbol, position in self._positions.items()
            if position.is_open and symbol in prices
        }

    def valuation(self, prices: Mapping[str, Decimal], currency: str) -> Valuation:
        """Mark every balance to `currency` using `ASSET/currency` prices."""
        return value_in(self._balances, prices, currency)

    def _assets(self, symbol: str) -> tuple[str, str]:
        assets = self._symbols.get(symbol)
        if assets is None:
            assets = self._symbols[symbol] = split_symbol(symbol)
        return assets
