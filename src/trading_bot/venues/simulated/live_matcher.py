"""Matching on a venue's live trades, as they arrive, without look-ahead.

The same conventions as matching on recorded trades (`path_matcher`), applied to a stream:

- An order is acknowledged on arrival (`SimulatedExchange.acknowledge`, against the last
  trade) and processed at the first live trade after its arrival: one delivered after it
  arrived and stamped (exchange time) at or after its arrival time, so a print that was
  already on its way never fills it. The exchange's clock and ours are taken to agree (NTP);
  ours running ahead only delays orders by the difference.
- At that trade: a market order fills whole at the trade's price (slippage model applied:
  `volume` reads the trade's size as the volume); a limit marketable at that price fills as
  taker at that price (never worse than its limit); otherwise GTC rests, IOC / FOK expire,
  and a post-only that would cross expires (it is rejected instead on arrival if it crosses
  the last trade, or here if it came before any trade). A stop whose trigger that price reaches
  triggers there (see below); otherwise it rests.
- A resting limit fills whole as maker at its own limit when a later trade prints through
  it (buy: trade price < limit, sell: >; `fills.limit_fill: touch` also at equality).
- A resting stop triggers on the first trade that reaches its trigger (buy: price >=
  trigger, sell: <=); a stop-market then fills at that trade's price as taker, a stop-limit
  does what a limit arriving at that price does.
- A modified order, and an order restored after a restart, is processed as newly arrived at
  the next trade (a resting limit the price moved through while the bot was down fills as
  taker at that trade's price).
- `fills.max_volume_share` does not apply: a live print's size says little about the
  liquidity around it, so fills are whole. OCO legs, fees, reservations and expiry timers are
  the exchange's, as with recorded data.

Cost and memory: only open orders are kept (waiting for their first trade, or resting), never
trades. Each trade is first compared with the band no resting order can act in (below the
lowest sell limit / buy trigger, above the highest buy limit / sell trigger): inside it, a
trade costs two comparisons; the band is recomputed only when the resting orders change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.market import Market
from trading_bot.domain.rejections import RejectionReason
from trading_bot.venues.simulated.params import FillRules, SlippageModel
from trading_bot.venues.simulated.pricing import marketable, passes_through, slipped
from trading_bot.venues.simulated.venue_order import VenueOrder

if TYPE_CHECKING:  # the live feed's package imports ccxt: not for backtests
    from trading_bot.market_data.live.trades import LiveTrade
    from trading_bot.venues.simulated.exchange import SimulatedExchange

R = RejectionReason
TAKER, MAKER = LiquiditySide.TAKER, LiquiditySide.MAKER
BUY, MARKET, STOP_MARKET, GTC = Side.BUY, OrderType.MARKET, OrderType.STOP_MARKET, TimeInForce.GTC
# the band when no resting order can act on one side
_NO_LOW, _NO_HIGH = Decimal("-Infinity"), Decimal("Infinity")


class LiveMatcher:
    def __init__(
        self,
        venue: SimulatedExchange,
        market: Market,
        rules: FillRules,
        slippage: SlippageModel,
    ) -> None:
        self._venue = venue
        self._market = market
        self._slippage = slippage
        self._touch = rules.limit_fill == "touch"
        # orders to process as new at their first trade, with the time they (re)arrived
        self._waiting: dict[str, tuple[VenueOrder, int]] = {}
        self._resting: dict[str, VenueOrder] = {}
        self._band: tuple[Decimal, Decimal] | None = None  # (act at or below, at or above)
        # the latest trade by the exchange's time (a late print does not move it back)
        self._last_price: Decimal | None = None
        self._last_ts = -1

    # -- entry points from the exchange ---------------------------------------------------------

    def arrive(self, order: VenueOrder) -> None:
        if not order.accepted:
            self._venue.acknowledge(order, self._last_price)
            if order.closed:
                return
        self._waiting[order.client_order_id] = (order, self._venue.now())

    def last_price(self, now: int) -> Decimal | None:
        """The price of the latest trade received, by the exchange's time (None before the
        first)."""
        return self._last_price

    def remove(self, order: VenueOrder) -> None:
        self._waiting.pop(order.client_order_id, None)
        if self._resting.pop(order.client_order_id, None) is not None:
            self._band = None

    def resume(self, order: VenueOrder) -> None:
        """An acknowledged order restored after a restart: processed at the next trade."""
        self.reprice(order)

    def reprice(self, order: VenueOrder) -> None:
        """A modified order is processed as newly arrived at the next trade."""
        if order.closed:
            return
        self.remove(order)
        self.arrive(order)

    def on_trade(self, trade: LiveTrade) -> None:
        """One live trade of this market: resting orders it reaches act first (they were
        there before), then orders waiting for their first trade."""
        price = trade.price
        if trade.ts_ms >= self._last_ts:
            self._last_price, self._last_ts = price, trade.ts_ms
        if self._resting:
            if self._band is None:
                self._band = self._compute_band()
            low, high = self._band
            if price <= low or price >= high:
                for order in list(self._resting.values()):
                    if not order.closed:
                        self._on_resting(order, trade)
        if self._waiting:
            due = [item for item in self._waiting.values() if item[1] <= trade.ts_ms]
            for order, _ in due:
                del self._waiting[order.client_order_id]
                if order.closed:
                    continue
                if order.accepted:
                    self._act(order, trade)
                else:
                    self._start(order, trade)

    # -- an order's first trade -----------------------------------------------------------------

    def _start(self, order: VenueOrder, trade: LiveTrade) -> None:
        """Acknowledge (or refuse) a new order at its first trade, then act on that trade."""
        venue = self._venue
        price = trade.price
        expiry = order.expires_at_ms
        if expiry is not None and venue.now() > expiry:
            venue.expire(order, R.EXPIRED, f"its first {order.symbol} trade came after {expiry}")
            return
        if order.order_type is MARKET:
            amount = order.remaining
            fill_price = self._taker_price(order, trade, amount)
            if venue.takes_market_order(order, amount, fill_price) and venue.accept(order):
                self._take(order, trade)
            return
        if (
            order.post_only
            and order.price is not None
            and marketable(order.side, order.price, price)
        ):
            venue.reject(
                order, R.POST_ONLY_WOULD_CROSS, f"limit {order.price} would cross the trade {price}"
            )
            return
        if venue.accept(order):
            self._act(order, trade)

    def _act(self, order: VenueOrder, trade: LiveTrade) -> None:
        """What an acknowledged order does at its first trade (after arrival, a modification
        or a restart): trigger, take at the trade's price, expire, or rest."""
        price = trade.price
        if order.order_type.has_trigger and not order.triggered:
            if self._reaches_trigger(order, price):
                self._triggered(order, trade)
            else:
                self._rest(order)
            return
        if order.acts_as_market:
            self._take(order, trade)
            return
        limit = order.price
        assert limit is not None
        if not marketable(order.side, limit, price):
            if order.time_in_force is not GTC:
                self._venue.expire(
                    order, R.WOULD_NOT_FILL, f"limit {limit} was not marketable at {price}"
                )
            else:
                self._rest(order)
            return
        if order.post_only:
            self._venue.expire(
                order, R.POST_ONLY_WOULD_CROSS, f"limit {limit} would cross the trade {price}"
            )
            return
        self._take(order, trade, cap=limit)

    # -- resting orders -------------------------------------------------------------------------

    def _on_resting(self, order: VenueOrder, trade: LiveTrade) -> None:
        price = trade.price
        if order.order_type.has_trigger and not order.triggered:
            if self._reaches_trigger(order, price):
                self._unrest(order)
                self._triggered(order, trade)
            return
        limit = order.price
        assert limit is not None
        if not passes_through(order.side, limit, price, touch=self._touch):
            return
        amount = order.remaining
        if not self._venue.affordable(order, amount, limit):
            self._unrest(order)
            self._venue.expire(
                order, R.INSUFFICIENT_BALANCE, self._venue.unaffordable(order, amount, limit)
            )
            return
        self._venue.fill(order, amount, limit, MAKER)  # whole: the exchange closes the order

    def _triggered(self, order: VenueOrder, trade: LiveTrade) -> None:
        """A stop reached by `trade`: report it, then act on the same trade."""
        self._venue.trigger(order)
        if order.closed:
            return
        if order.order_type is STOP_MARKET:
            self._take(order, trade)
            return
        self._act(order, trade)

    def _rest(self, order: VenueOrder) -> None:
        self._resting[order.client_order_id] = order
        self._band = None

    def _unrest(self, order: VenueOrder) -> None:
        del self._resting[order.client_order_id]
        self._band = None

    def _compute_band(self) -> tuple[Decimal, Decimal]:
        """(low, high): a trade strictly between them reaches no resting order."""
        low, high = _NO_LOW, _NO_HIGH
        for order in self._resting.values():
            waiting_trigger = order.order_type.has_trigger and not order.triggered
            level = order.trigger_price if waiting_trigger else order.price
            assert level is not None
            # a buy limit and a sell stop act when the price comes down to them
            if (order.side is BUY) != waiting_trigger:
                low = max(low, level)
            else:
                high = min(high, level)
        return low, high

    def _reaches_trigger(self, order: VenueOrder, price: Decimal) -> bool:
        trigger = order.trigger_price
        assert trigger is not None
        return price >= trigger if order.side is BUY else price <= trigger

    # -- taking ---------------------------------------------------------------------------------

    def _take(self, order: VenueOrder, trade: LiveTrade, *, cap: Decimal | None = None) -> None:
        """Fill what is left as taker at the trade's price (slipped, never past `cap`)."""
        amount = order.remaining
        price = self._taker_price(order, trade, amount)
        if cap is not None:
            price = min(price, cap) if order.side is BUY else max(price, cap)
        if not self._venue.affordable(order, amount, price):
            self._venue.expire(
                order, R.INSUFFICIENT_BALANCE, self._venue.unaffordable(order, amount, price)
            )
            return
        self._venue.fill(order, amount, price, TAKER)

    def _taker_price(self, order: VenueOrder, trade: LiveTrade, amount: Decimal) -> Decimal:
        if self._slippage.model == "none":
            return trade.price
        share = amount / trade.amount if trade.amount > 0 else None
        return slipped(trade.price, order.side, self._slippage, self._market, share)
