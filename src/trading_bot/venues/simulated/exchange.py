"""SimulatedExchange: a venue that matches orders on recorded market data.

It uses the best data it is given per symbol: an L2 order book, else trades, else bars (see
`path_matcher` and `book_matcher` for the fill conventions). Around the matching it does what
a real exchange does: validates orders against the market rules (same rejection reasons a
venue gives), applies latency on the simulated clock, reserves funds for open orders, charges
maker or taker fees in the quote asset, links OCO legs (one fills or triggers, the other is
canceled) and reports every outcome through `VenueReports`, the path a live venue uses too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO, is_multiple_of
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.marks import MarkSeries
from trading_bot.market_data.order_book import BookSeries
from trading_bot.venues.base import Venue, VenueReports
from trading_bot.venues.simulated.account import SimulatedAccount
from trading_bot.venues.simulated.book_matcher import BookMatcher
from trading_bot.venues.simulated.params import SimulatedExchangeParams
from trading_bot.venues.simulated.path_matcher import PathMatcher
from trading_bot.venues.simulated.venue_order import VenueOrder

Matcher = PathMatcher | BookMatcher
R = RejectionReason


class SimulatedExchange(Venue):
    Params = SimulatedExchangeParams
    params: SimulatedExchangeParams

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self.account = SimulatedAccount(self.params.balances)
        self._markets: dict[str, Market] = {}
        self._matchers: dict[str, Matcher] = {}
        self._data_rank: dict[str, int] = {}
        self._open: dict[str, VenueOrder] = {}
        self._oco: dict[str, list[VenueOrder]] = {}
        self._executed_groups: set[str] = set()  # OCO groups one leg of which filled or triggered

        self._reserved: dict[str, tuple[str, Decimal]] = {}
        self._rng = random.Random(self.params.seed)
        self._reports: VenueReports | None = None
        self._clock: Clock | None = None
        self._order_sequence = 0
        self._trade_sequence = 0

    # -- setup ----------------------------------------------------------------------------------

    def bind(self, reports: VenueReports, clock: Clock) -> None:
        self._reports = reports
        self._clock = clock

    def add_market_data(self, data: BarSeries | BookSeries) -> None:
        """Make `data.symbol` tradeable. Given several kinds for one symbol, the venue matches
        on the best: order book, then trades, then bars."""
        rank = 2 if isinstance(data, BookSeries) else 1 if data.is_trades else 0
        symbol = data.symbol
        if symbol not in self._markets:
            self._markets[symbol] = self._market_for(symbol)
        if rank < self._data_rank.get(symbol, -1):
            return
        self._data_rank[symbol] = rank
        market = self._markets[symbol]
        if isinstance(data, BookSeries):
            self._matchers[symbol] = BookMatcher(self, data, market)
        else:
            self._matchers[symbol] = PathMatcher(
                self, data, market, self.params.fills, self.params.slippage
            )

    def unused_market_rules(self) -> list[str]:
        """Symbols with rules under `params.markets` but no market data: probably a typo."""
        return sorted(set(self.params.markets) - set(self._matchers))

    def marks(self, symbol: str) -> MarkSeries:

        return self._matchers[symbol].marks()

    def _market_for(self, symbol: str) -> Market:
        rules = self.params.markets.get(symbol)
        fees = self.params.fees
        if rules is None:
            return Market.for_symbol(symbol, maker_fee=fees.maker, taker_fee=fees.taker)
        return Market.for_symbol(
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
        return dict(self.account.total)

    def submit_order(self, order: Order) -> None:
        reports, clock = self._bound()
        problem = self._invalid(order)
        if problem is not None:
            reports.order_rejected(order.client_order_id, *problem)
            return
        if order.oco_group is not None and order.oco_group in self._executed_groups:
            # a leg sent after its sibling already executed: the OCO is over
            reports.order_canceled(
                order.client_order_id, "another leg of its OCO group already executed"
            )
            return
        self._order_sequence += 1
        venue_order = VenueOrder.of(order, str(self._order_sequence))

        self._open[order.client_order_id] = venue_order
        if order.oco_group is not None:
            self._oco.setdefault(order.oco_group, []).append(venue_order)
        matcher = self._matchers[order.symbol]
        delay = self._delay(self.params.latency.submit_ms)
        if delay:
            clock.schedule_after(delay, lambda: self._arrive(matcher, venue_order))
        else:
            matcher.arrive(venue_order)

    def cancel_order(self, order: Order) -> None:
        self._after(self.params.latency.cancel_ms, lambda: self._cancel(order.client_order_id))

    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        self._after(
            self.params.latency.submit_ms,
            lambda: self._modify(order.client_order_id, amount, price),
        )

    # -- requests arriving after latency --------------------------------------------------------

    def _arrive(self, matcher: Matcher, order: VenueOrder) -> None:
        if not order.closed:
            matcher.arrive(order)

    def _cancel(self, client_order_id: str) -> None:
        reports, _ = self._bound()
        order = self._open.get(client_order_id)
        if order is None:
            reports.cancel_rejected(
                client_order_id, R.ORDER_NOT_FOUND, "no open order with that id"
            )
            return
        self._close(order)
        reports.order_canceled(client_order_id, "canceled on request")

    def _modify(self, client_order_id: str, amount: Decimal | None, price: Decimal | None) -> None:
        reports, _ = self._bound()
        order = self._open.get(client_order_id)
        if order is None or not order.accepted:
            reports.modify_rejected(
                client_order_id, R.ORDER_NOT_FOUND, "no open order with that id"
            )
            return
        market = self._markets[order.symbol]
        new_amount = order.amount if amount is None else amount
        if order.order_type is OrderType.MARKET or (order.acts_as_market):
            reports.modify_rejected(
                client_order_id, R.INVALID_ORDER, "market orders cannot be modified"
            )
            return
        if new_amount <= order.filled:
            reports.modify_rejected(
                client_order_id,
                R.INVALID_ORDER,
                f"new amount {new_amount} <= filled {order.filled}",
            )
            return
        current = order.price if order.order_type.has_limit_price else order.trigger_price
        problem = self._rules_problem(market, new_amount, price if price is not None else current)
        if problem is not None:
            reports.modify_rejected(client_order_id, *problem)
            return
        old = (order.amount, order.price, order.trigger_price)
        order.amount = new_amount
        if price is not None:
            if order.order_type.has_limit_price:
                order.price = price
            else:
                order.trigger_price = price
        if not self._reserve(order):
            order.amount, order.price, order.trigger_price = old
            self._reserve(order)
            reports.modify_rejected(
                client_order_id,
                R.INSUFFICIENT_BALANCE,
                "the modified order needs more free balance",
            )
            return
        reports.order_modified(
            client_order_id,
            order.amount,
            order.price if order.order_type.has_limit_price else price,
        )
        self._matchers[order.symbol].reprice(order)

    # -- used by the matchers -------------------------------------------------------------------

    def now(self) -> int:
        return self._bound()[1].now_ms()

    @property
    def clock(self) -> Clock:
        return self._bound()[1]

    def accept(self, order: VenueOrder) -> bool:
        """Acknowledge an order, reserving what it could spend; reject it if not free."""
        reports, _ = self._bound()
        if not self._reserve(order):
            asset, amount = self._requirement(order)
            self._forget(order)
            reports.order_rejected(
                order.client_order_id,
                R.INSUFFICIENT_BALANCE,
                f"needs {amount} {asset} free, {self.account.free(asset)} is",
            )
            return False
        order.accepted = True
        reports.order_accepted(order.client_order_id, order.venue_order_id)
        if order.expires_at_ms is not None and order.order_type is not OrderType.MARKET:
            self.clock.schedule_at(order.expires_at_ms + 1, lambda: self._expire_if_open(order))
        return True

    def _expire_if_open(self, order: VenueOrder) -> None:
        if not order.closed:
            self.expire(order, R.EXPIRED, f"good till {order.expires_at_ms}")

    def affordable(self, order: VenueOrder, amount: Decimal, price: Decimal) -> bool:
        """Can the account pay for a fill of `amount` at `price` (plus taker fee)?"""
        market = self._markets[order.symbol]
        asset, reserved = self._reserved.get(self._reservation_key(order), ("", ZERO))
        if order.side is Side.BUY:
            need = amount * price * (1 + _worst_fee(market))

            return need <= self.account.free(market.quote) + (
                reserved if asset == market.quote else ZERO
            )
        return amount <= self.account.free(market.base) + (
            reserved if asset == market.base else ZERO
        )

    def fill(
        self, order: VenueOrder, amount: Decimal, price: Decimal, liquidity: LiquiditySide
    ) -> None:
        reports, clock = self._bound()
        market = self._markets[order.symbol]
        notional = amount * price
        fee = notional * (
            market.maker_fee if liquidity is LiquiditySide.MAKER else market.taker_fee
        )
        key = self._reservation_key(order)
        self._release(key)
        account = self.account
        if order.side is Side.BUY:
            account.credit(market.base, amount)
            account.debit(market.quote, notional + fee)
        else:
            account.debit(market.base, amount)
            account.credit(market.quote, notional - fee)
        order.filled += amount
        self._trade_sequence += 1
        reports.order_filled(
            Fill(
                f"sim-{self._trade_sequence}",
                order.client_order_id,
                order.symbol,
                order.side,
                amount,
                price,
                fee,
                market.quote,
                liquidity,
                clock.now_ms(),
            )
        )
        self._cancel_siblings(order, "the other leg of its OCO group filled")
        if order.remaining <= 0:
            self._close(order)
        else:
            self._reserve(order, best_effort=True)

    def trigger(self, order: VenueOrder) -> None:
        order.triggered = True
        self._bound()[0].order_triggered(order.client_order_id)
        self._cancel_siblings(order, "the other leg of its OCO group triggered")

    def expire(self, order: VenueOrder, reason: RejectionReason, detail: str) -> None:
        self._close(order)
        self._bound()[0].order_expired(order.client_order_id, reason, detail)

    def reject(self, order: VenueOrder, reason: RejectionReason, detail: str) -> None:
        self._forget(order)
        self._bound()[0].order_rejected(order.client_order_id, reason, detail)

    def oco_legs(self, order: VenueOrder) -> list[VenueOrder]:
        return list(self._oco.get(order.oco_group, [order])) if order.oco_group else [order]

    # -- internals ------------------------------------------------------------------------------

    def _invalid(self, order: Order) -> tuple[RejectionReason, str] | None:
        market = self._markets.get(order.symbol)
        if market is None:
            return R.UNKNOWN_ASSET, f"no market data for {order.symbol}"
        if order.client_order_id in self._open:
            return R.INVALID_ORDER, f"client order id {order.client_order_id} is already open"
        kind = order.order_type
        if kind.has_limit_price and order.price is None:
            return R.INVALID_ORDER, f"a {kind} order needs a price"
        if kind.has_trigger and order.trigger_price is None:
            return R.INVALID_ORDER, f"a {kind} order needs a trigger price"
        if order.post_only and (
            kind is not OrderType.LIMIT or order.time_in_force is not TimeInForce.GTC
        ):
            return R.INVALID_ORDER, "post-only applies to GTC limit orders only"
        if order.oco_group is not None and kind is OrderType.MARKET:
            return R.INVALID_ORDER, "a market order cannot be an OCO leg"
        priced = order.price if kind.has_limit_price else order.trigger_price
        return self._rules_problem(market, order.amount, priced, order.trigger_price)

    @staticmethod
    def _rules_problem(
        market: Market, amount: Decimal, price: Decimal | None, trigger: Decimal | None = None
    ) -> tuple[RejectionReason, str] | None:
        for value in (price, trigger):
            if value is not None and (value <= 0 or not is_multiple_of(value, market.price_step)):
                return (
                    R.INVALID_PRICE_PRECISION,
                    f"price {value} is not on the {market.price_step} grid",
                )
        problem = market.check_order(amount, price)
        if problem is None:
            return None
        value = f" (notional {amount * price})" if price is not None else ""
        return problem, (
            f"amount {amount}{value} breaks {market.symbol} rules: step {market.amount_step}, "
            f"min amount {market.min_amount}, min notional {market.min_notional}"
        )

    def _requirement(self, order: VenueOrder) -> tuple[str, Decimal]:
        """What an open order could spend: base for a sell, quote (with taker fee) for a buy."""
        market = self._markets[order.symbol]
        if order.side is Side.SELL and order.order_type is not OrderType.MARKET:
            return market.base, order.remaining

        if order.order_type is OrderType.MARKET:  # filled at once, checked at each fill
            return market.quote, ZERO
        price = order.price if order.order_type.has_limit_price else order.trigger_price
        assert price is not None

        return market.quote, order.remaining * price * (1 + _worst_fee(market))

    def _reservation_key(self, order: VenueOrder) -> str:
        """OCO legs share one reservation: only one of them can execute."""
        return f"oco:{order.oco_group}" if order.oco_group is not None else order.client_order_id

    def _reserve(self, order: VenueOrder, *, best_effort: bool = False) -> bool:
        """(Re)set the reservation behind `order` (its OCO group's, for a leg) to what it could
        spend now. With `best_effort`, reserve what is free when the full amount is not."""
        key = self._reservation_key(order)
        asset, amount = self._requirement(order)
        if order.oco_group is not None:
            for leg in self._oco.get(order.oco_group, ()):
                leg_asset, leg_amount = self._requirement(leg)
                if not leg.closed and leg_asset == asset:
                    amount = max(amount, leg_amount)
        self._release(key)
        if amount == 0:
            return True
        if self.account.reserve(asset, amount):
            self._reserved[key] = (asset, amount)
            return True
        if best_effort:
            free = self.account.free(asset)
            if free > 0 and self.account.reserve(asset, free):
                self._reserved[key] = (asset, free)
        return False

    def _release(self, key: str) -> None:
        held = self._reserved.pop(key, None)
        if held is not None:
            self.account.release(*held)

    def _close(self, order: VenueOrder) -> None:
        order.closed = True
        order.cancel_timer()
        self._open.pop(order.client_order_id, None)
        self._matchers[order.symbol].remove(order)
        if order.oco_group is not None:
            legs = self._oco.get(order.oco_group, [])
            if all(leg.closed for leg in legs):
                self._oco.pop(order.oco_group, None)
                self._release(self._reservation_key(order))
            else:
                self._reserve(next(leg for leg in legs if not leg.closed), best_effort=True)
        else:
            self._release(order.client_order_id)

    def _forget(self, order: VenueOrder) -> None:
        """Drop an order the venue never accepted."""
        self._close(order)

    def _cancel_siblings(self, order: VenueOrder, detail: str) -> None:
        if order.oco_group is None:
            return
        self._executed_groups.add(order.oco_group)
        reports, _ = self._bound()

        for leg in list(self._oco.get(order.oco_group, [])):
            if leg is not order and not leg.closed:
                self._close(leg)
                reports.order_canceled(leg.client_order_id, detail)

    def _delay(self, base_ms: int) -> int:
        jitter = self.params.latency.jitter_ms
        return base_ms + (self._rng.randint(0, jitter) if jitter else 0)

    def _after(self, base_ms: int, action: Any) -> None:
        delay = self._delay(base_ms)
        if delay:
            self._bound()[1].schedule_after(delay, action)
        else:
            action()

    def _bound(self) -> tuple[VenueReports, Clock]:
        if self._reports is None or self._clock is None:
            raise RuntimeError("SimulatedExchange is not bound to an order manager yet")
        return self._reports, self._clock


def _worst_fee(market: Market) -> Decimal:
    """The fee rate a buy must be able to pay: a resting order may fill as maker or taker."""
    return max(market.maker_fee, market.taker_fee)
