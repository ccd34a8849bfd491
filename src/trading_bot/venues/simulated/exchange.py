"""SimulatedExchange: a venue that matches orders on recorded or live market data.

It uses the best data it is given per symbol: an L2 order book, else trades, else bars (see
`path_matcher` and `book_matcher` for the fill conventions), or a venue's live trades as they
arrive (`live_matcher`). Around the matching it does what a real exchange does: validates orders against the market rules (same rejection reasons a
venue gives), applies latency on the simulated clock, reserves funds for open orders, charges
maker or taker fees in the quote asset, links OCO legs (one fills or triggers, the other is
canceled) and reports every outcome through `VenueReports`, the path a live venue uses too.
Orders are acknowledged on arrival (`acknowledge`), as on a real venue, and fill when the data
they are matched on comes.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from mypy_extensions import mypyc_attr
from pydantic import BaseModel

from trading_bot.domain.enums import LiquiditySide, OrderType, Side
from trading_bot.domain.fill import Fill
from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock, Timer, TimerCallback
from trading_bot.engine.component import NotBound
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.marks import MarkSeries
from trading_bot.market_data.order_book import BookSeries
from trading_bot.venues.base import Venue, VenueReports
from trading_bot.venues.order_rules import invalid_order, rules_problem
from trading_bot.venues.simulated.account import SimulatedAccount
from trading_bot.venues.simulated.book_matcher import BookMatcher
from trading_bot.venues.simulated.live_matcher import LiveMatcher
from trading_bot.venues.simulated.params import SimulatedExchangeParams
from trading_bot.venues.simulated.path_matcher import PathMatcher
from trading_bot.venues.simulated.pricing import marketable
from trading_bot.venues.simulated.reservations import Reservations, worst_fee
from trading_bot.venues.simulated.venue_order import VenueOrder

if TYPE_CHECKING:  # the live feed's package imports ccxt: not for backtests
    from trading_bot.market_data.live.trades import LiveTrade

Matcher = PathMatcher | BookMatcher | LiveMatcher
R: Final = RejectionReason
MAKER: Final = LiquiditySide.MAKER
BUY: Final = Side.BUY
MARKET: Final = OrderType.MARKET


_NOT_BOUND: Final = "SimulatedExchange is not bound to an order manager yet"


class _UnboundClock(Clock):
    """Stands in for the clock until `bind` (a Clock: compiled code checks the type)."""

    def now_ms(self) -> int:
        raise RuntimeError(_NOT_BOUND)

    def schedule_at(self, at_ms: int, callback: TimerCallback) -> Timer:
        raise RuntimeError(_NOT_BOUND)


@mypyc_attr(allow_interpreted_subclasses=True)  # a venue of one's own may build on it
class SimulatedExchange(Venue):
    Params = SimulatedExchangeParams
    params: SimulatedExchangeParams
    links_oco = True  # `_cancel_siblings`
    matches_in_process = True

    def __init__(self, params: BaseModel | Mapping[str, Any] | None = None) -> None:
        super().__init__(params)
        self.account = SimulatedAccount(self.params.balances)
        self._markets: dict[str, Market] = {}
        self._matchers: dict[str, Matcher] = {}
        self._data_rank: dict[str, int] = {}
        self._open: dict[str, VenueOrder] = {}
        # every client order id the venue took (refused-on-sight orders are not taken)
        self._taken_ids: set[str] = set()
        self._oco: dict[str, list[VenueOrder]] = {}
        self._executed_groups: set[str] = set()  # OCO groups one leg of which filled or triggered

        self._reservations = Reservations(self.account, self._markets)
        self._rng = random.Random(self.params.seed)
        self._latency = self.params.latency
        # until `bind`, any use of these says what is missing
        self._reports: VenueReports = NotBound(_NOT_BOUND)
        self.clock: Clock = _UnboundClock()
        self._order_sequence = 0
        self._trade_sequence = 0

    # -- setup ----------------------------------------------------------------------------------

    def bind(self, reports: VenueReports, clock: Clock) -> None:
        self._reports = reports
        self.clock = clock

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

    def add_live_market(self, symbol: str, venue_rules: Market | None) -> None:
        """Make `symbol` tradeable on live trades handed to `on_live_trade`. Its rules are
        `params.markets`' if given, else the live venue's (`venue_rules`: steps and minimums;
        the fee rates stay this venue's own)."""
        market = self._market_for(symbol, venue_rules)
        self._markets[symbol] = market
        self._matchers[symbol] = LiveMatcher(self, market, self.params.fills, self.params.slippage)

    def on_live_trade(self, trade: LiveTrade) -> None:
        """A live trade of a market added with `add_live_market`: orders it reaches act."""
        matcher = self._matchers.get(trade.symbol)
        if isinstance(matcher, LiveMatcher):
            matcher.on_trade(trade)

    def unused_market_rules(self) -> list[str]:
        """Symbols with rules under `params.markets` but no market data: probably a typo."""
        return sorted(set(self.params.markets) - set(self._matchers))

    def marks(self, symbol: str) -> MarkSeries:
        """The recorded prices of `symbol` (a live market's are the live feed's, not here)."""
        matcher = self._matchers[symbol]
        if isinstance(matcher, LiveMatcher):
            raise LookupError(f"{symbol} matches on live trades: read its prices from the feed")
        return matcher.marks()

    def _market_for(self, symbol: str, venue_rules: Market | None = None) -> Market:
        rules = self.params.markets.get(symbol)
        fees = self.params.fees
        if rules is None and venue_rules is not None:
            return replace(venue_rules, maker_fee=fees.maker, taker_fee=fees.taker)
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
        reports = self._reports
        client_order_id = order.client_order_id
        market = self._markets.get(order.symbol)
        if market is None:
            reports.order_rejected(
                client_order_id, R.UNKNOWN_ASSET, f"no market data for {order.symbol}"
            )
            return
        if client_order_id in self._taken_ids:
            # an id is executed at most once, open or finished: what makes a resend after an
            # unknown outcome safe
            reports.order_rejected(
                client_order_id,
                R.DUPLICATE_ORDER,
                f"client order id {client_order_id} was already used",
            )
            return
        problem = invalid_order(order, market)
        if problem is not None:
            reports.order_rejected(client_order_id, *problem)
            return
        oco_group = order.oco_group
        if oco_group is not None and oco_group in self._executed_groups:
            # a leg sent after its sibling already executed: the OCO is over
            reports.order_canceled(client_order_id, "another leg of its OCO group already executed")
            return
        self._order_sequence += 1
        venue_order = VenueOrder.of(order, str(self._order_sequence))

        self._open[client_order_id] = venue_order
        self._taken_ids.add(client_order_id)
        if oco_group is not None:
            self._oco.setdefault(oco_group, []).append(venue_order)
        matcher = self._matchers[order.symbol]
        latency = self._latency
        delay = self._delay(latency.submit_ms) if latency.submit_ms or latency.jitter_ms else 0
        if delay:
            self.clock.schedule_after(delay, lambda: self._arrive(matcher, venue_order))
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
        reports = self._reports
        order = self._open.get(client_order_id)
        if order is None:
            reports.cancel_rejected(
                client_order_id, R.ORDER_NOT_FOUND, "no open order with that id"
            )
            return
        self._close(order)
        reports.order_canceled(client_order_id, "canceled on request")

    def _modify(self, client_order_id: str, amount: Decimal | None, price: Decimal | None) -> None:
        reports = self._reports
        order = self._open.get(client_order_id)
        if order is None:
            reports.modify_rejected(
                client_order_id, R.ORDER_NOT_FOUND, "no open order with that id"
            )
            return
        if not order.accepted:
            reports.modify_rejected(
                client_order_id,
                R.INVALID_ORDER,
                "not acknowledged yet; modify it once it is open, or cancel it",
            )
            return
        market = self._markets[order.symbol]
        new_amount = order.amount if amount is None else amount
        if order.acts_as_market:
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
        problem = rules_problem(market, new_amount, price if price is not None else current)
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

    # -- restoring a saved venue (paper trading across restarts) ----------------------------------

    @property
    def sequences(self) -> tuple[int, int]:
        """(last venue order number, last trade number): saved so ids never repeat."""
        return self._order_sequence, self._trade_sequence

    def volume_used_at(self, ms: int) -> dict[str, tuple[int, Decimal]]:
        """Per symbol on recorded data under a volume cap: (open time, volume used) of the bar
        in progress at `ms` (see `PathMatcher.volume_used_at`)."""
        found = {}
        for symbol, matcher in self._matchers.items():
            if isinstance(matcher, PathMatcher) and (used := matcher.volume_used_at(ms)):
                found[symbol] = used
        return found

    def restore_volume_used(self, used: dict[str, tuple[int, Decimal]]) -> None:
        for symbol, (bar_ms, amount) in used.items():
            matcher = self._matchers.get(symbol)
            if isinstance(matcher, PathMatcher):
                matcher.restore_volume_used(bar_ms, amount)

    def restore_sequences(self, order_sequence: int, trade_sequence: int) -> None:
        self._order_sequence = order_sequence
        self._trade_sequence = trade_sequence

    def restore_open_order(
        self, order: VenueOrder, *, arrived_ms: int | None = None, as_of_ms: int | None = None
    ) -> None:
        """Put back an order that was open before a restart: its funds are reserved again and
        it is matched from the next bar on (an unacknowledged one arrives now), or, given when
        it arrived and when the venue last committed (`as_of_ms`, a catch-up on the data
        missed since), as the resting order it was then. An acknowledged market order holds
        its cost at the last price known now (its estimate is not kept across restarts)."""
        clock = self.clock
        self._open[order.client_order_id] = order
        self._taken_ids.add(order.client_order_id)
        if order.oco_group is not None:
            self._oco.setdefault(order.oco_group, []).append(order)
        matcher = self._matchers.get(order.symbol)
        if matcher is None:
            self.expire(order, R.NO_MARKET_DATA, f"no market data for {order.symbol}")
            return
        if order.accepted and order.order_type is MARKET and order.estimate is None:
            order.estimate = matcher.last_price(clock.now_ms())
        self._reserve(order, best_effort=True)
        if not order.accepted:
            matcher.arrive(order)
            return
        if order.expires_at_ms is not None and order.order_type is not OrderType.MARKET:
            clock.schedule_at(order.expires_at_ms + 1, lambda: self._expire_if_open(order))
        if isinstance(matcher, PathMatcher) and arrived_ms is not None and as_of_ms is not None:
            matcher.resume_resting(order, arrived_ms, as_of_ms)
        else:
            matcher.resume(order)

    # -- used by the matchers -------------------------------------------------------------------

    def now(self) -> int:
        return self.clock.now_ms()

    def acknowledge(self, order: VenueOrder, last_price: Decimal | None) -> None:
        """Acknowledge a new order on arrival, as a real venue does, before the data it is
        matched on (the next bar or trade). What a venue checks on sight is checked against
        `last_price`, the last price known now: a market order's notional and cost (its funds
        are then held at that price until it fills), a post-only limit's crossing. The order
        may still expire when it meets the data (the price moved and the balance no longer
        covers it). With no price known yet, those two are acknowledged when they first
        meet the data instead, where they are checked."""
        if order.order_type is MARKET:
            if last_price is None:
                return
            amount = order.amount
            if self._below_min_notional(order, amount, last_price):
                return
            order.estimate = last_price
            if not self._reserve(order):  # the funds check is the reservation itself
                order.estimate = None
                detail = self.unaffordable(order, amount, last_price)
                self.reject(order, R.INSUFFICIENT_BALANCE, detail)
                return
            self._acknowledged(order)
            return
        if order.post_only and order.price is not None:
            if last_price is None:
                return
            if marketable(order.side, order.price, last_price):
                self.reject(
                    order,
                    R.POST_ONLY_WOULD_CROSS,
                    f"limit {order.price} would cross the last price {last_price}",
                )
                return
        self.accept(order)

    def accept(self, order: VenueOrder) -> bool:
        """Acknowledge an order (once), reserving what it could spend; reject it if not
        free."""
        if order.accepted:
            return True
        if not self._reserve(order):
            asset, amount = self._reservations.requirement(order)
            self._close(order)
            self._reports.order_rejected(
                order.client_order_id,
                R.INSUFFICIENT_BALANCE,
                f"needs {amount} {asset} free, {self.account.free(asset)} is",
            )
            return False
        self._acknowledged(order)
        return True

    def _acknowledged(self, order: VenueOrder) -> None:
        order.accepted = True
        self._reports.order_accepted(order.client_order_id, order.venue_order_id)
        if order.expires_at_ms is not None and order.order_type is not MARKET:
            self.clock.schedule_at(order.expires_at_ms + 1, lambda: self._expire_if_open(order))

    def _expire_if_open(self, order: VenueOrder) -> None:
        if not order.closed:
            self.expire(order, R.EXPIRED, f"good till {order.expires_at_ms}")

    def takes_market_order(self, order: VenueOrder, amount: Decimal, price: Decimal) -> bool:
        """Whether the venue takes market order `order` for `amount` at its first fill price
        `price`; if not it is rejected here, with the reason a venue gives (below the market's
        minimum notional, or more than the account can pay). Every matcher asks this before
        acknowledging a market order no price was known for on arrival."""
        if self._below_min_notional(order, amount, price):
            return False
        if not self.affordable(order, amount, price):
            self.reject(order, R.INSUFFICIENT_BALANCE, self.unaffordable(order, amount, price))
            return False
        return True

    def _below_min_notional(self, order: VenueOrder, amount: Decimal, price: Decimal) -> bool:
        """Reject market order `order` if `amount` at `price` is below the minimum notional."""
        minimum = self._markets[order.symbol].min_notional
        if amount * price >= minimum:
            return False
        self.reject(order, R.BELOW_MIN_NOTIONAL, f"notional {amount * price} < {minimum}")
        return True

    def unaffordable(self, order: VenueOrder, amount: Decimal, price: Decimal) -> str:
        """Why the account cannot pay for a fill of `amount` at `price` (for the report)."""
        market = self._markets[order.symbol]
        if order.side is BUY:
            return f"buy of {amount} {market.base} at {price} needs {amount * price} {market.quote} plus fee"
        return f"sell of {amount} {market.base} exceeds the free balance"

    def affordable(self, order: VenueOrder, amount: Decimal, price: Decimal) -> bool:
        """Can the account pay for a fill of `amount` at `price` (plus taker fee)?"""
        market = self._markets[order.symbol]
        if order.side is BUY:
            asset = market.quote
            need = amount * price * (1 + worst_fee(market))
        else:
            asset = market.base
            need = amount
        free = self.account.free(asset)
        held_asset, held = self._reservations.held(order)
        if held_asset == asset:
            free += held
        return need <= free

    def fill(
        self, order: VenueOrder, amount: Decimal, price: Decimal, liquidity: LiquiditySide
    ) -> None:
        market = self._markets[order.symbol]
        notional = amount * price
        fee = notional * (market.maker_fee if liquidity is MAKER else market.taker_fee)
        self._reservations.release(
            order.client_order_id if order.oco_group is None else self._reservations.key(order)
        )
        if order.side is BUY:
            self.account.settle(market.base, amount, market.quote, -(notional + fee))
        else:
            self.account.settle(market.base, -amount, market.quote, notional - fee)
        order.filled += amount
        self._trade_sequence += 1
        self._reports.order_filled(
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
                self.clock.now_ms(),
            )
        )
        if order.oco_group is not None:
            self._cancel_siblings(order, "the other leg of its OCO group filled")
        if order.closed:
            return  # what heard the reports canceled it meanwhile: nothing is held for it
        if order.filled >= order.amount:
            self._close(order)
        else:
            self._reserve(order, best_effort=True)

    def trigger(self, order: VenueOrder) -> None:
        order.triggered = True
        self._reports.order_triggered(order.client_order_id)
        self._cancel_siblings(order, "the other leg of its OCO group triggered")

    def expire(self, order: VenueOrder, reason: RejectionReason, detail: str) -> None:
        self._close(order)
        self._reports.order_expired(order.client_order_id, reason, detail)

    def reject(self, order: VenueOrder, reason: RejectionReason, detail: str) -> None:
        """Refuse `order`; one already acknowledged can no longer be rejected: it expires,
        with the same reason."""
        self._close(order)
        if order.accepted:
            self._reports.order_expired(order.client_order_id, reason, detail)
        else:
            self._reports.order_rejected(order.client_order_id, reason, detail)

    def oco_legs(self, order: VenueOrder) -> list[VenueOrder]:
        return list(self._oco.get(order.oco_group, [order])) if order.oco_group else [order]

    # -- internals ------------------------------------------------------------------------------

    def _reserve(self, order: VenueOrder, *, best_effort: bool = False) -> bool:
        legs = self._oco.get(order.oco_group, ()) if order.oco_group is not None else ()
        return self._reservations.reserve(order, legs, best_effort=best_effort)

    def _close(self, order: VenueOrder) -> None:
        order.closed = True
        if order.timer is not None:
            order.cancel_timer()
        self._open.pop(order.client_order_id, None)
        self._matchers[order.symbol].remove(order)
        if order.oco_group is not None:
            legs = self._oco.get(order.oco_group, [])
            if all(leg.closed for leg in legs):
                self._oco.pop(order.oco_group, None)
                self._reservations.release(self._reservations.key(order))
            else:
                self._reserve(next(leg for leg in legs if not leg.closed), best_effort=True)
        else:
            self._reservations.release(order.client_order_id)

    def _cancel_siblings(self, order: VenueOrder, detail: str) -> None:
        if order.oco_group is None:
            return
        self._executed_groups.add(order.oco_group)
        reports = self._reports

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
            self.clock.schedule_after(delay, action)
        else:
            action()
