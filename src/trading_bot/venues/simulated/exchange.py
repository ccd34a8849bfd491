"""SimulatedExchange: a venue that fills market orders on historical or replayed bars.

Convention (no look-ahead): a market order sent at time t fills in full at the open of the
first bar of its symbol that opens at or after t. The taker fee (rate x filled notional) is
charged in the quote asset. Balances are checked at fill time: a buy whose cost plus fee
exceeds the quote balance, or a sell larger than the base balance, is rejected with
`insufficient_balance`. An order with no bar left to fill on is rejected with `no_market_data`,
one whose first bar comes after its expiry ends `expired`.

Only bars on which an order is waiting cost anything: each order schedules one timer at its
fill bar's open, so idle bars are never visited.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from trading_bot.domain.enums import LiquiditySide, OrderType, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.market_data.bars import BarSeries
from trading_bot.venues.base import Venue, VenueReports
from trading_bot.venues.simulated.params import SimulatedExchangeParams


class SimulatedExchange(Venue):
    Params = SimulatedExchangeParams
    params: SimulatedExchangeParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self._balances: dict[str, Decimal] = dict(self.params.balances)
        self._markets: dict[str, Market] = {}
        self._bars: dict[str, BarSeries] = {}
        self._waiting: dict[tuple[str, int], list[Order]] = {}
        self._bar_of_order: dict[str, tuple[str, int]] = {}
        self._reports: VenueReports | None = None
        self._clock: Clock | None = None
        self._order_sequence = 0
        self._trade_sequence = 0

    # -- setup ----------------------------------------------------------------------------------

    def bind(self, reports: VenueReports, clock: Clock) -> None:
        self._reports = reports
        self._clock = clock

    def add_bars(self, series: BarSeries) -> None:
        """Make `series.symbol` tradeable on these bars."""
        symbol = series.symbol
        self._bars[symbol] = series
        rules = self.params.markets.get(symbol)
        fees = self.params.fees
        if rules is None:
            self._markets[symbol] = Market.for_symbol(
                symbol, maker_fee=fees.maker, taker_fee=fees.taker
            )
        else:
            self._markets[symbol] = Market.for_symbol(
                symbol,
                amount_step=rules.amount_step,
                price_step=rules.price_step,
                min_amount=rules.min_amount,
                min_notional=rules.min_notional,
                maker_fee=fees.maker if rules.maker_fee is None else rules.maker_fee,
                taker_fee=fees.taker if rules.taker_fee is None else rules.taker_fee,
            )

    # -- Venue ----------------------------------------------------------------------------------

    def market(self, symbol: str) -> Market | None:
        return self._markets.get(symbol)

    def balances(self) -> dict[str, Decimal]:
        return dict(self._balances)

    def submit_order(self, order: Order) -> None:
        reports, clock = self._bound()
        market = self._markets.get(order.symbol)
        if market is None:
            reports.order_rejected(
                order.client_order_id,
                RejectionReason.UNKNOWN_ASSET,
                f"no market data for {order.symbol}",
            )
            return
        if order.order_type is not OrderType.MARKET:
            reports.order_rejected(
                order.client_order_id,
                RejectionReason.UNSUPPORTED_ORDER_TYPE,
                f"the simulated exchange fills market orders only, got {order.order_type}",
            )
            return
        problem = market.check_order(order.amount, None)
        if problem is not None:
            reports.order_rejected(
                order.client_order_id, problem, f"amount {order.amount} breaks {order.symbol} rules"
            )
            return
        series = self._bars[order.symbol]
        now = clock.now_ms()
        index = series.first_at_or_after(now)
        if index >= len(series):
            reports.order_rejected(
                order.client_order_id,
                RejectionReason.NO_MARKET_DATA,
                f"no {order.symbol} bar at or after {now} to fill on",
            )
            return
        key = (order.symbol, index)
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = []
            clock.schedule_at(int(series.ts[index]), lambda: self._fill_on_bar(key))
        waiting.append(order)
        self._bar_of_order[order.client_order_id] = key

    def cancel_order(self, order: Order) -> None:
        reports, _ = self._bound()
        key = self._bar_of_order.pop(order.client_order_id, None)
        if key is None:
            return
        self._waiting[key].remove(order)
        reports.order_canceled(order.client_order_id, "canceled before it reached the market")

    # -- matching -------------------------------------------------------------------------------

    def _fill_on_bar(self, key: tuple[str, int]) -> None:
        orders = self._waiting.pop(key, [])
        if not orders:
            return
        reports, clock = self._bound()
        symbol, index = key
        series = self._bars[symbol]
        market = self._markets[symbol]
        price = series.price(series.open[index])
        now = clock.now_ms()
        for order in orders:
            self._bar_of_order.pop(order.client_order_id, None)
            if order.expires_at_ms is not None and now > order.expires_at_ms:
                reports.order_expired(order.client_order_id)
                continue
            problem = self._unaffordable(order, market, price)
            if problem is not None:
                reports.order_rejected(order.client_order_id, *problem)
                continue
            self._order_sequence += 1
            reports.order_accepted(order.client_order_id, str(self._order_sequence))
            reports.order_filled(self._execute(order, market, price, now))

    def _unaffordable(
        self, order: Order, market: Market, price: Decimal
    ) -> tuple[RejectionReason, str] | None:
        notional = order.amount * price
        if notional < market.min_notional:
            return (
                RejectionReason.BELOW_MIN_NOTIONAL,
                f"notional {notional} {market.quote} < min {market.min_notional}",
            )
        if order.side is Side.BUY:
            needed = notional + notional * market.taker_fee
            have = self._balances.get(market.quote, ZERO)
            if needed > have:
                return (
                    RejectionReason.INSUFFICIENT_BALANCE,
                    f"buy of {order.amount} {market.base} at {price} needs {needed} {market.quote} "
                    f"with fee, balance is {have}",
                )
        else:
            have = self._balances.get(market.base, ZERO)
            if order.amount > have:
                return (
                    RejectionReason.INSUFFICIENT_BALANCE,
                    f"sell of {order.amount} {market.base} exceeds the balance {have}",
                )
        return None

    def _execute(self, order: Order, market: Market, price: Decimal, now: int) -> Fill:
        notional = order.amount * price
        fee = notional * market.taker_fee
        balances = self._balances
        if order.side is Side.BUY:
            balances[market.base] = balances.get(market.base, ZERO) + order.amount
            balances[market.quote] = balances[market.quote] - notional - fee
        else:
            balances[market.base] = balances[market.base] - order.amount
            balances[market.quote] = balances.get(market.quote, ZERO) + notional - fee
        self._trade_sequence += 1
        return Fill(
            trade_id=f"sim-{self._trade_sequence}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            amount=order.amount,
            price=price,
            fee=fee,
            fee_asset=market.quote,
            liquidity=LiquiditySide.TAKER,
            ts_ms=now,
        )

    def _bound(self) -> tuple[VenueReports, Clock]:
        if self._reports is None or self._clock is None:
            raise RuntimeError("SimulatedExchange is not bound to an order manager yet")
        return self._reports, self._clock
