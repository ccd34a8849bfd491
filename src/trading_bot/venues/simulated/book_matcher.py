"""Matching on a recorded L2 order book.

- The book at time t is the last snapshot plus the deltas up to t. Orders act at once on
  arrival against that book.
- A market order walks the opposite side level by level (one taker fill per level); what the
  book cannot fill expires (`no_liquidity`).
- A limit order takes what it can up to its price (taker), then IOC expires the rest, FOK
  fills only if the whole amount is there, post-only rejects if it would take anything, GTC
  rests. A resting limit fills as maker at its price when the recorded book later crosses
  through it (asks below a resting bid), by the size that crossed.
- Stops trigger when the best ask (for a buy) or best bid (for a sell) reaches the trigger,
  then walk the book like a market or limit order.
- Liquidity the bot took is removed from the local book until the recording updates that
  level. Slippage models and the volume cap do not apply: the book is the slippage.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO, floor_to_step
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Timer
from trading_bot.market_data.marks import MarkSeries
from trading_bot.market_data.order_book import BookSeries, OrderBook
from trading_bot.venues.simulated.path_matcher import STALE_START_MS
from trading_bot.venues.simulated.pricing import passes_through
from trading_bot.venues.simulated.venue_order import VenueOrder

if TYPE_CHECKING:
    from trading_bot.venues.simulated.exchange import SimulatedExchange

R = RejectionReason


class BookMatcher:
    def __init__(self, venue: SimulatedExchange, series: BookSeries, market: Market) -> None:
        self._venue = venue
        self._series = series
        self._market = market
        self._book = OrderBook()
        self._next_event = 0
        self._resting: dict[str, VenueOrder] = {}
        self._waiting: list[VenueOrder] = []
        self._timer: Timer | None = None
        self._touch = venue.params.fills.limit_fill == "touch"

    def marks(self) -> MarkSeries:
        return self._series.marks()

    # -- entry points from the exchange ---------------------------------------------------------

    def arrive(self, order: VenueOrder) -> None:
        self._sync()
        now = self._venue.now()
        if self._series.events and now - self._series.end_ms > STALE_START_MS:
            self._venue.reject(
                order,
                R.NO_MARKET_DATA,
                f"the {order.symbol} recording ended at {self._series.end_ms}",
            )
            return
        if self._next_event == 0:  # no book yet: act on the first snapshot
            start = self._series.start_ms if self._series.events else None
            if start is None or start - now > STALE_START_MS:
                self._venue.reject(
                    order, R.NO_MARKET_DATA, f"no {order.symbol} order book at {now}"
                )
                return
            self._waiting.append(order)
            self._wake_at_next_event()
            return
        self._start(order)

    def last_price(self, now: int) -> Decimal | None:
        """None: orders act on arrival against the book, so none waits on an estimate."""
        return None

    def remove(self, order: VenueOrder) -> None:
        self._resting.pop(order.client_order_id, None)

    def resume(self, order: VenueOrder) -> None:
        """An acknowledged order restored after a restart acts as if it had just arrived."""
        self.reprice(order)

    def reprice(self, order: VenueOrder) -> None:
        """A modified order acts as if it had just arrived (it may now cross the book)."""
        if not order.closed:
            self._resting.pop(order.client_order_id, None)
            self._sync()
            self._rest_or_act(order, fresh=True)

    # -- processing -----------------------------------------------------------------------------

    def _start(self, order: VenueOrder) -> None:
        venue = self._venue
        expiry = order.expires_at_ms
        if expiry is not None and venue.now() > expiry:
            venue.expire(
                order, R.EXPIRED, f"the order book was first available after its expiry {expiry}"
            )
            return
        if order.order_type is OrderType.MARKET:
            levels = self._takeable(order, None)
            if not levels:
                venue.reject(order, R.NO_LIQUIDITY, f"the {order.side} side of the book is empty")
                return
            cost = sum((price * amount for price, amount in levels), ZERO)
            amount = sum((amount for _, amount in levels), ZERO)
            if cost < self._market.min_notional:
                venue.reject(
                    order, R.BELOW_MIN_NOTIONAL, f"notional {cost} < {self._market.min_notional}"
                )
                return
            if not venue.affordable(order, amount, cost / amount):
                detail = (
                    f"the walk costs {cost} {self._market.quote} plus fee"
                    if order.side is Side.BUY
                    else venue.unaffordable(order, amount, cost / amount)
                )
                venue.reject(order, R.INSUFFICIENT_BALANCE, detail)
                return
            if venue.accept(order):
                self._take_all(order, None)
            return
        if order.post_only and order.price is not None and self._takeable(order, order.price):
            venue.reject(
                order, R.POST_ONLY_WOULD_CROSS, f"limit {order.price} would take liquidity"
            )
            return
        if venue.accept(order):
            self._rest_or_act(order, fresh=True)

    def _rest_or_act(self, order: VenueOrder, *, fresh: bool = False) -> None:
        """Act on the current book: trigger, take liquidity (a fresh order) or fill where the
        book crossed it (a resting one); rest whatever is left of a GTC order."""
        venue = self._venue
        if order.order_type.has_trigger and not order.triggered:
            if not self._triggered(order):
                self._rest(order)
                return
            venue.trigger(order)
            if order.closed:
                return
            fresh = True
        if order.acts_as_market:
            self._take_all(order, None)
            return
        limit = order.price
        assert limit is not None
        if fresh:
            takeable = self._takeable(order, limit)
            if order.post_only and takeable:
                venue.expire(order, R.POST_ONLY_WOULD_CROSS, f"limit {limit} would take liquidity")
                return
            if order.time_in_force is TimeInForce.FOK:
                available = sum((amount for _, amount in takeable), ZERO)
                if available < order.remaining:
                    venue.expire(
                        order, R.WOULD_NOT_FILL, f"only {available} available up to {limit}"
                    )
                    return
            self._take(order, takeable)
            if not order.closed and order.time_in_force is not TimeInForce.GTC:
                venue.expire(order, R.WOULD_NOT_FILL, "the rest of an IOC order")
                return
        else:
            self._fill_crossed(order, limit)
        if not order.closed:
            self._rest(order)

    def _take_all(self, order: VenueOrder, limit: Decimal | None) -> None:
        """Walk the book for the whole order; what cannot fill expires."""
        self._take(order, self._takeable(order, limit))
        if not order.closed:
            self._venue.expire(
                order, R.NO_LIQUIDITY, f"the book ran out with {order.remaining} unfilled"
            )

    def _take(self, order: VenueOrder, levels: list[tuple[Decimal, Decimal]]) -> None:
        """Fill against `levels` as a taker, best first, while the account can pay."""
        for price, amount in levels:
            if order.closed:
                return
            if not self._venue.affordable(order, amount, price):
                self._venue.expire(
                    order, R.INSUFFICIENT_BALANCE, f"cannot pay for {amount} at {price}"
                )
                return
            self._book.consume(order.side, price, amount)
            self._venue.fill(order, amount, price, LiquiditySide.TAKER)

    def _takeable(self, order: VenueOrder, limit: Decimal | None) -> list[tuple[Decimal, Decimal]]:
        """(price, amount) the order would take, best level first, on the amount grid."""
        left = order.remaining
        taken = []
        for price, size in self._book.liquidity_for(order.side):
            if left <= 0 or (limit is not None and not _within(order.side, price, limit)):
                break
            amount = floor_to_step(min(size, left), self._market.amount_step)
            if amount > 0:
                taken.append((price, amount))
                left -= amount
        return taken

    def _fill_crossed(self, order: VenueOrder, limit: Decimal) -> None:
        """A resting limit the book crossed fills at its own price, as maker, by the size that
        crossed it; only the liquidity it filled against is taken out of the book."""
        crossing = [
            (price, size)
            for price, size in self._book.liquidity_for(order.side)
            if passes_through(order.side, limit, price, touch=self._touch)
        ]
        crossed = sum((size for _, size in crossing), ZERO)
        amount = floor_to_step(min(crossed, order.remaining), self._market.amount_step)
        if amount <= 0 or not self._venue.affordable(order, amount, limit):
            return
        left = amount
        for price, size in crossing:
            used = min(size, left)
            self._book.consume(order.side, price, used)
            left -= used
            if left <= 0:
                break
        self._venue.fill(order, amount, limit, LiquiditySide.MAKER)

    def _triggered(self, order: VenueOrder) -> bool:
        trigger = order.trigger_price
        assert trigger is not None
        if order.side is Side.BUY:
            ask = self._book.best_ask()
            return ask is not None and ask >= trigger
        bid = self._book.best_bid()
        return bid is not None and bid <= trigger

    # -- the recording --------------------------------------------------------------------------

    def _rest(self, order: VenueOrder) -> None:
        self._resting[order.client_order_id] = order
        self._wake_at_next_event()

    def _sync(self, *, through_now: bool = False) -> None:
        """Apply the recorded events before now (and at now, `through_now`): an order sent at
        the very millisecond of an update acts on the book as it was just before it."""
        events, now = self._series.events, self._venue.now()
        limit = now + 1 if through_now else now
        while self._next_event < len(events) and events[self._next_event].ts_ms < limit:
            self._book.apply(events[self._next_event])
            self._next_event += 1

    def _wake_at_next_event(self) -> None:
        if self._timer is not None or self._next_event >= len(self._series.events):
            return
        self._timer = self._venue.clock.schedule_at(
            self._series.events[self._next_event].ts_ms, self._on_event
        )

    def _on_event(self) -> None:
        self._timer = None
        self._sync(through_now=True)
        waiting, self._waiting = self._waiting, []
        for order in waiting:
            if not order.closed:
                self._start(order)
        for order in list(self._resting.values()):
            if not order.closed:
                self._resting.pop(order.client_order_id, None)
                self._rest_or_act(order)
        if self._resting:
            self._wake_at_next_event()


def _within(side: Side, price: Decimal, limit: Decimal) -> bool:
    return price <= limit if side is Side.BUY else price >= limit
