"""Funds set aside for open orders.

An open order reserves what it could spend: base for a sell, quote plus the worst fee for a
buy at its limit or trigger price. OCO legs share one reservation (only one of them can
execute), sized for the leg that needs most. A market order acknowledged before its first fill
holds what it would cost at the last price (`VenueOrder.estimate`); each fill is checked
against the price it actually gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Final

from trading_bot.domain.enums import OrderType, Side
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO
from trading_bot.venues.simulated.account import SimulatedAccount
from trading_bot.venues.simulated.venue_order import VenueOrder

_MARKET: Final = OrderType.MARKET
_NOTHING: Final = ("", ZERO)


def worst_fee(market: Market) -> Decimal:
    """The fee rate a buy must be able to pay: a resting order may fill as maker or taker."""
    return max(market.maker_fee, market.taker_fee)


class Reservations:
    def __init__(self, account: SimulatedAccount, markets: Mapping[str, Market]) -> None:
        self._account = account
        self._markets = markets
        self._held: dict[str, tuple[str, Decimal]] = {}

    @staticmethod
    def key(order: VenueOrder) -> str:
        return order.client_order_id if order.oco_group is None else f"oco:{order.oco_group}"

    def held(self, order: VenueOrder) -> tuple[str, Decimal]:
        """(asset, amount) currently reserved behind `order` (its group's, for an OCO leg)."""
        key = order.client_order_id if order.oco_group is None else f"oco:{order.oco_group}"
        return self._held.get(key, _NOTHING)

    def requirement(self, order: VenueOrder) -> tuple[str, Decimal]:
        market = self._markets[order.symbol]
        if order.order_type is _MARKET:
            price = order.estimate
            if price is None:
                return market.quote, ZERO
        elif order.order_type.has_limit_price:
            price = order.price
        else:
            price = order.trigger_price
        remaining = order.amount - order.filled
        if order.side is Side.SELL:
            return market.base, remaining
        assert price is not None
        return market.quote, remaining * price * (1 + worst_fee(market))

    def reserve(
        self, order: VenueOrder, legs: Iterable[VenueOrder] = (), *, best_effort: bool = False
    ) -> bool:
        """(Re)set the reservation behind `order` to what it and its open OCO `legs` could
        spend now. With `best_effort`, hold what is free when the full amount is not; returns
        whether the full amount is held."""
        key = order.client_order_id if order.oco_group is None else f"oco:{order.oco_group}"
        asset, amount = self.requirement(order)
        for leg in legs:
            leg_asset, leg_amount = self.requirement(leg)
            if not leg.closed and leg_asset == asset:
                amount = max(amount, leg_amount)
        held = self._held.pop(key, None)
        if held is not None:
            self._account.release(*held)
        if amount == 0:
            return True
        if self._account.reserve(asset, amount):
            self._held[key] = (asset, amount)
            return True
        if best_effort:
            free = self._account.free(asset)
            if free > 0 and self._account.reserve(asset, free):
                self._held[key] = (asset, free)
        return False

    def release(self, key: str) -> None:
        held = self._held.pop(key, None)
        if held is not None:
            self._account.release(*held)
