"""Matching on bars, or on trades (zero-length bars), without look-ahead.

Conventions (the README has them too):
- An order is acknowledged on arrival (checked against the last close, see
  `SimulatedExchange.acknowledge`) and processed at the open of the first bar at or after its
  arrival time.
- What happens at a bar's open is reported at the open: market fills, limits marketable at
  the open (taker), resting limits the bar gapped through (at the open), stops the bar opened
  beyond (at the open).
- What depends on the bar's range (high/low) is reported at the bar's close, when the range
  is known: a resting limit the bar traded through (at the limit, as maker: low < limit for a
  buy, high > limit for a sell; `limit_fill: touch` also fills at equality) and a stop the bar
  reached (at the trigger; a stop-market fills there as taker, a stop-limit whose limit
  admits the trigger price too, else it rests from the next bar). On trades, open and close
  are the same moment, and a trade through a resting limit fills it at the limit.
- At its first open, a limit not marketable there: IOC/FOK expire, GTC rests (the arrival
  bar's range still counts); a post-only that would cross the open expires (one that would
  cross the last close is rejected on arrival).
- OCO legs that could both act in one bar: the one reached at the open goes first; otherwise
  the stop leg (`oco_same_bar: stop_first`, default) or the limit leg (`limit_first`).
- `max_volume_share` caps fills per bar (or trade) across all orders of the symbol; the rest
  of a market order fills at the next bars' opens.

Bars where nothing can happen cost nothing: each resting order finds the next bar that could
touch it with a vectorized scan and sleeps on a clock timer until then.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Final

import numpy as np

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.market import Market
from trading_bot.domain.money import ZERO, floor_to_step
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Timer, TimerCallback
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.marks import MarkSeries
from trading_bot.venues.simulated.params import FillRules, SlippageModel
from trading_bot.venues.simulated.pricing import marketable, passes_through, scaled_bound, slipped
from trading_bot.venues.simulated.venue_order import VenueOrder

if TYPE_CHECKING:
    from trading_bot.venues.simulated.exchange import SimulatedExchange

R: Final = RejectionReason
TAKER: Final = LiquiditySide.TAKER
MAKER: Final = LiquiditySide.MAKER
BUY: Final = Side.BUY
MARKET: Final = OrderType.MARKET
STOP_MARKET: Final = OrderType.STOP_MARKET
FOK: Final = TimeInForce.FOK
GTC: Final = TimeInForce.GTC
# An order this long before the first data point is not filled on it: the data is missing.
STALE_START_MS: Final = 60_000

Action = Callable[[VenueOrder, int], None]


class PathMatcher:
    def __init__(
        self,
        venue: SimulatedExchange,
        series: BarSeries,
        market: Market,
        rules: FillRules,
        slippage: SlippageModel,
    ) -> None:
        self._venue = venue
        self._series = series
        self._market = market
        self._rules = rules
        self._slippage = slippage
        self._touch = rules.limit_fill == "touch"
        self._gaps = not series.is_trades
        self._slips = slippage.model != "none"
        self._volume_share = rules.max_volume_share
        # without a volume cap a market order fills whole at its first open (see _take_whole)
        self._whole_fills = rules.max_volume_share is None
        self._ts = series.ts_list
        self._opens = series.open
        self._closes = series.close
        self._unit = series.price_unit
        self._volume_used: dict[int, Decimal] = {}
        self._n = len(series)
        self._volume_line: deque[VenueOrder] = deque()
        # bar index -> the orders whose range event runs at that bar's close (`_at_close`)
        self._closing: dict[int, list[tuple[VenueOrder, Timer]]] = {}
        self._line_timer: Timer | None = None

    def marks(self) -> MarkSeries:
        return self._series.marks()

    # -- entry points from the exchange ---------------------------------------------------------

    def arrive(self, order: VenueOrder) -> None:
        now = self._venue.now()
        index = bisect_left(self._ts, now)
        if index >= self._n:
            self._venue.reject(order, R.NO_MARKET_DATA, f"no {order.symbol} data at or after {now}")
            return
        if index == 0 and self._series.start_ms - now > max(
            self._series.interval_ms, STALE_START_MS
        ):
            self._venue.reject(
                order,
                R.NO_MARKET_DATA,
                f"{order.symbol} data starts at {self._series.start_ms}, long after {now}",
            )
            return
        self._venue.acknowledge(order, self.last_price(now))
        if not order.closed:
            self._schedule(order, self._ts[index], index, self._start)

    def last_price(self, now: int) -> Decimal | None:
        """The close of the last bar closed at `now` (a trade is known from the millisecond
        after it), as `marks()` has it."""
        index = bisect_right(self._ts, now - (self._series.interval_ms or 1)) - 1
        return self._unit * self._closes.item(index) if index >= 0 else None

    def remove(self, order: VenueOrder) -> None:
        if order.timer is not None:
            order.cancel_timer()

    def resume(self, order: VenueOrder) -> None:
        """An acknowledged order restored after a restart: a market order (or triggered
        stop-market) still waiting for volume goes back in line for the next bar; anything
        else is matched from the next bar's open as if it had just arrived."""
        if order.closed:
            return
        if order.acts_as_market:
            self._volume_line.append(order)
            self._serve_line_at(self._series.first_at_or_after(self._venue.now() + 1))
            return
        self.reprice(order)

    def resume_resting(self, order: VenueOrder, arrived_ms: int, as_of_ms: int) -> None:
        """An acknowledged order restored when the venue catches up on the data it missed
        since its last commit at `as_of_ms`: one whose first bar (from `arrived_ms`) had
        opened by then was resting, and goes on as such from that moment (the range of the
        bar in progress, then gaps at later opens, fill it as maker); any other is `resume`d.
        Under a volume cap, what the bar in progress had given comes from `restore_volume_used`."""
        current = bisect_right(self._ts, as_of_ms) - 1
        first = self._series.first_at_or_after(arrived_ms)
        if order.closed or order.acts_as_market or not 0 <= first <= current < self._n:
            self.resume(order)
            return
        order.start_index = first
        if self._ts[current] + self._series.interval_ms > as_of_ms and self._acts_in_range(
            order, current
        ):
            self._at_close(order, current, self._at_bar_close)
        else:
            self._sleep_until_touched(order, current + 1)

    def volume_used_at(self, ms: int) -> tuple[int, Decimal] | None:
        """(open time, volume its fills used) of the bar in progress at `ms`, if fills used
        any under a volume cap: kept with the venue's books, so a catch-up after a restart
        does not give that volume again."""
        index = bisect_right(self._ts, ms) - 1
        used = self._volume_used.get(index) if index >= 0 else None
        return None if used is None else (self._ts[index], used)

    def restore_volume_used(self, bar_ms: int, used: Decimal) -> None:
        index = self._series.first_at_or_after(bar_ms)
        if index < self._n and self._ts[index] == bar_ms:
            self._volume_used[index] = used

    def reprice(self, order: VenueOrder) -> None:
        """A modified order is treated as newly arrived at the next bar's open; one still
        waiting for its first bar keeps it (that bar reads its new terms)."""
        if order.closed or (order.start_index < 0 and order.timer is not None):
            return
        index = self._series.first_at_or_after(self._venue.now() + 1)
        if index < self._n:
            order.start_index = index
            self._at_open(order, index, self._at_bar_open)
        else:
            order.cancel_timer()

    # -- at a bar's open ------------------------------------------------------------------------

    def _start(self, order: VenueOrder, index: int) -> None:
        venue = self._venue
        order.start_index = index
        expiry = order.expires_at_ms
        if expiry is not None and venue.now() > expiry:
            venue.expire(
                order, R.EXPIRED, f"its first {order.symbol} bar came after its expiry {expiry}"
            )
            return
        open_price = self._unit * self._opens.item(index)
        if order.order_type is MARKET:
            if self._whole_fills:
                self._take_whole(order, index, open_price)
                return
            # one acknowledged on arrival was checked then; `_fill` checks what it pays now
            if not order.accepted:
                amount = order.amount
                price = (
                    self._taker_price(order, index, open_price, amount)
                    if self._slips
                    else open_price
                )
                if not venue.takes_market_order(order, amount, price) or not venue.accept(order):
                    return
            self._fill_market(order, index, open_price)
            return
        if (
            order.post_only
            and order.price is not None
            and marketable(order.side, order.price, open_price)
        ):
            venue.reject(
                order,
                R.POST_ONLY_WOULD_CROSS,
                f"limit {order.price} would cross the open {open_price}",
            )
            return
        if venue.accept(order):
            self._at_bar_open(order, index)

    def _at_bar_open(self, order: VenueOrder, index: int) -> None:
        """What `order` does at the open of bar `index`; range events wait for the close."""
        open_price = self._price(self._series.open, index)
        fresh = index == order.start_index

        if order.order_type.has_trigger and not order.triggered:
            trigger = order.trigger_price
            assert trigger is not None
            if (open_price >= trigger) if order.side is BUY else (open_price <= trigger):
                self._triggered(order, index, open_price)
                return
        elif (
            fresh
            and order.post_only
            and order.price is not None
            and marketable(order.side, order.price, open_price)
        ):
            self._venue.expire(
                order,
                R.POST_ONLY_WOULD_CROSS,
                f"limit {order.price} would cross the open {open_price}",
            )
            return
        elif fresh and order.price is not None and marketable(order.side, order.price, open_price):
            self._fill(order, index, open_price, TAKER, slip=True, cap=order.price)
            if not order.closed and order.time_in_force is not GTC:
                self._venue.expire(order, R.WOULD_NOT_FILL, "the rest of an IOC order")
            elif not order.closed:
                self._sleep_until_touched(order, index + 1)
            return
        elif fresh and order.time_in_force is not GTC:
            self._venue.expire(
                order, R.WOULD_NOT_FILL, f"limit {order.price} was not marketable at {open_price}"
            )
            return
        elif (
            not fresh
            and self._gaps
            and order.price is not None
            and passes_through(order.side, order.price, open_price, touch=self._touch)
        ):
            self._fill(order, index, open_price, MAKER)
            if not order.closed:
                self._sleep_until_touched(order, index + 1)
            return
        if self._acts_in_range(order, index):
            self._at_close(order, index, self._at_bar_close)
        else:
            self._sleep_until_touched(order, index + 1)

    # -- at a bar's close -----------------------------------------------------------------------

    def _at_bar_close(self, order: VenueOrder, index: int) -> None:
        """Range events of bar `index`: trade-through fills and in-bar triggers."""
        if order.oco_group is not None:
            first = self._oco_first(order, index)
            if first is not order:
                self._range_event(first, index)
                if order.closed:
                    return
        self._range_event(order, index)

    def _range_event(self, order: VenueOrder, index: int) -> None:
        if order.closed:
            return
        if order.order_type.has_trigger and not order.triggered:
            if self._acts_in_range(order, index):
                assert order.trigger_price is not None
                self._triggered(order, index, order.trigger_price)
                return
        elif order.price is not None and self._acts_in_range(order, index):
            self._fill(order, index, order.price, MAKER)
        if not order.closed:
            self._sleep_until_touched(order, index + 1)

    def _triggered(self, order: VenueOrder, index: int, price: Decimal) -> None:
        """A stop reached at `price` in bar `index`: report it, then act on the same price."""
        self._venue.trigger(order)
        if order.closed:
            return
        if order.order_type is STOP_MARKET:
            self._fill_market(order, index, price)
            return
        limit = order.price
        assert limit is not None
        if marketable(order.side, limit, price):
            self._fill(order, index, price, TAKER, slip=True, cap=limit)
            if not order.closed and order.time_in_force is not GTC:
                self._venue.expire(order, R.WOULD_NOT_FILL, "the rest of an IOC stop-limit")
                return
        elif order.time_in_force is not GTC:
            self._venue.expire(
                order, R.WOULD_NOT_FILL, f"limit {limit} was not marketable at {price}"
            )
            return
        if not order.closed:
            self._sleep_until_touched(order, index + 1)

    # -- fills ----------------------------------------------------------------------------------

    def _take_whole(self, order: VenueOrder, index: int, open_price: Decimal) -> None:
        """Fill all of a market order at the open: the fast path of `_fill_market` when no
        volume cap applies, with the same reports, balances and fills. One acknowledged on
        arrival (checked then, against the last close) only has to afford the price it gets
        now. One met before any price was known is checked and acknowledged here; the account
        check is redone after the acceptance report only if the account changed since
        (whatever reacted to the report may have spent or reserved funds)."""
        venue = self._venue
        amount = order.amount - order.filled
        price = self._taker_price(order, index, open_price, amount) if self._slips else open_price
        if order.accepted:
            # it holds its base (a sell) or its cost at the estimate (a buy): enough at a price
            # no higher than the estimate, else the account decides
            estimate = order.estimate
            affordable = (
                estimate is not None and (order.side is not BUY or price <= estimate)
            ) or venue.affordable(order, amount, price)
        else:
            if not venue.takes_market_order(order, amount, price):
                return
            account = venue.account
            version = account.version
            venue.accept(order)  # always succeeds: with no estimate it reserves nothing
            affordable = account.version == version or venue.affordable(order, amount, price)
        if not affordable:
            venue.expire(order, R.INSUFFICIENT_BALANCE, venue.unaffordable(order, amount, price))
            return
        venue.fill(order, amount, price, TAKER)

    def _fill_market(self, order: VenueOrder, index: int, price: Decimal) -> None:
        """Fill at `price` (plus slippage); what the volume cap leaves waits in line for the
        next bars' volume."""
        self._fill(order, index, price, TAKER, slip=True)
        if not order.closed:
            order.cancel_timer()
            self._volume_line.append(order)
            self._serve_line_at(index + 1)

    def _serve_line_at(self, index: int) -> None:
        if self._line_timer is not None:
            return
        if index >= self._n:
            for order in self._volume_line:
                if not order.closed:
                    self._venue.expire(
                        order, R.UNFILLED, "the data ended before the volume cap let it fill"
                    )
            self._volume_line.clear()
            return
        self._line_timer = self._venue.clock.schedule_at(
            self._series.ts_list[index], lambda: self._serve_line(index)
        )

    def _serve_line(self, index: int) -> None:
        """At a bar's open, market orders waiting for volume fill first come, first served,
        until the bar's volume share is used up; the rest wait for the next bar without being
        looked at one by one, so a long line costs nothing per idle order."""
        self._line_timer = None
        line = self._volume_line
        open_price = self._price(self._series.open, index)
        while line:
            order = line[0]
            if not order.closed:
                if self._fillable(order, index, open_price) <= 0:
                    break
                self._fill(order, index, open_price, TAKER, slip=True)
                if not order.closed:
                    break  # the bar's volume ran out inside this order: it stays first in line
            line.popleft()
        if line:
            self._serve_line_at(index + 1)

    def _fill(
        self,
        order: VenueOrder,
        index: int,
        price: Decimal,
        liquidity: LiquiditySide,
        *,
        slip: bool = False,
        cap: Decimal | None = None,
    ) -> None:
        amount = self._fillable(order, index, price)
        if order.time_in_force is FOK and amount < order.remaining:
            self._venue.expire(
                order, R.WOULD_NOT_FILL, f"only {amount} of {order.remaining} could fill"
            )
            return
        if amount <= 0:
            return
        fill_price = (
            self._taker_price(order, index, price, amount) if slip and self._slips else price
        )
        if cap is not None:
            fill_price = min(fill_price, cap) if order.side is BUY else max(fill_price, cap)
        if not self._venue.affordable(order, amount, fill_price):
            self._venue.expire(
                order, R.INSUFFICIENT_BALANCE, self._venue.unaffordable(order, amount, fill_price)
            )
            return
        if self._volume_share is not None:
            self._volume_used[index] = self._volume_used.get(index, ZERO) + amount
        self._venue.fill(order, amount, fill_price, liquidity)

    def _taker_price(
        self, order: VenueOrder, index: int, price: Decimal, amount: Decimal
    ) -> Decimal:
        if self._slippage.model == "none":
            return price
        volume = self._base_volume(index, price)
        share = amount / volume if volume else None
        return slipped(price, order.side, self._slippage, self._market, share)

    def _fillable(self, order: VenueOrder, index: int, price: Decimal) -> Decimal:
        share = self._volume_share
        if share is None:
            return order.amount - order.filled
        room = share * self._base_volume(index, price) - self._volume_used.get(index, ZERO)
        if len(self._volume_used) > 1024:
            self._volume_used = {i: v for i, v in self._volume_used.items() if i >= index}
        return min(order.remaining, floor_to_step(max(room, ZERO), self._market.amount_step))

    def _base_volume(self, index: int, price: Decimal) -> Decimal:
        volume = Decimal(repr(float(self._series.volume[index])))
        if self._rules.bar_volume_in == "quote" and not self._series.is_trades:
            return volume / price
        return volume

    # -- what a bar can do to an order ----------------------------------------------------------

    def _price(self, column: np.ndarray, index: int) -> Decimal:
        return self._unit * column.item(index)

    def _acts_in_range(self, order: VenueOrder, index: int) -> bool:
        """Does bar `index`'s range reach the order (its trigger, or through its limit)?"""
        series = self._series
        buy = order.side is BUY
        if order.order_type.has_trigger and not order.triggered:
            trigger = order.trigger_price
            assert trigger is not None
            return (
                self._price(series.high, index) >= trigger
                if buy
                else self._price(series.low, index) <= trigger
            )
        limit = order.price
        if limit is None:
            return False
        extreme = self._price(series.low if buy else series.high, index)
        return passes_through(order.side, limit, extreme, touch=self._touch)

    def _oco_first(self, order: VenueOrder, index: int) -> VenueOrder:
        """Of this leg and its open siblings reached in bar `index`'s range, the one that goes
        first by the OCO rule (legs reached at the open were settled at the open)."""
        contenders = [
            leg
            for leg in self._venue.oco_legs(order)
            if not leg.closed
            and leg.accepted
            and not leg.acts_as_market
            and self._acts_in_range(leg, index)
        ]
        if len(contenders) < 2:
            return order
        stops_first = self._rules.oco_same_bar == "stop_first"
        return sorted(contenders, key=lambda leg: leg.order_type.has_trigger != stops_first)[0]

    def _sleep_until_touched(self, order: VenueOrder, start: int) -> None:
        index = self._next_touch(order, start)
        if index < self._n:
            self._at_open(order, index, self._at_bar_open)
        else:
            order.cancel_timer()

    def _next_touch(self, order: VenueOrder, start: int) -> int:
        """First bar from `start` on where `order` could trigger or fill (len if none)."""
        if start >= self._n:
            return self._n
        series, scale = self._series, self._series.price_scale
        buy = order.side is BUY
        if order.order_type.has_trigger and not order.triggered:
            trigger = order.trigger_price
            assert trigger is not None
            if buy:
                return self._scan(
                    series.high, start, np.greater_equal, scaled_bound(trigger, scale, upper=True)
                )
            return self._scan(
                series.low, start, np.less_equal, scaled_bound(trigger, scale, upper=False)
            )
        limit = order.price
        assert limit is not None
        if buy:
            if self._touch:
                return self._scan(
                    series.low, start, np.less_equal, scaled_bound(limit, scale, upper=False)
                )
            return self._scan(series.low, start, np.less, scaled_bound(limit, scale, upper=True))
        if self._touch:
            return self._scan(
                series.high, start, np.greater_equal, scaled_bound(limit, scale, upper=True)
            )
        return self._scan(series.high, start, np.greater, scaled_bound(limit, scale, upper=False))

    def _scan(
        self, column: np.ndarray, start: int, test: Callable[..., np.ndarray], bound: int
    ) -> int:
        """Index of the first element from `start` passing `test(element, bound)`; chunks grow
        so a nearby hit is found fast and a far one in a few vectorized passes."""
        chunk = 64
        while start < self._n:
            end = min(self._n, start + chunk)
            hits = np.flatnonzero(test(column[start:end], bound))
            if hits.size:
                return start + int(hits[0])
            start = end
            chunk = min(chunk * 8, 1 << 20)
        return self._n

    # -- timers ---------------------------------------------------------------------------------

    def _at_open(self, order: VenueOrder, index: int, action: Action) -> None:
        self._schedule(order, self._ts[index], index, action)

    def _at_close(self, order: VenueOrder, index: int, action: Action) -> None:
        """Run `action` at bar `index`'s close. The range events of one bar run together
        then, in the order the venue took the orders, whenever each was set: an order waiting
        since an earlier bar goes before one that arrived later, first come, first served for
        the bar's volume (a timer each would run them in the order they were set, and an
        order re-armed after a partial fill was set after the newcomer)."""
        close_ms = self._series.ts_list[index] + self._series.interval_ms
        entry = Timer(close_ms, self._rearm(order, index, action))  # run by `_close_bar`
        order.timer = entry
        batch = self._closing.get(index)
        if batch is None:
            batch = self._closing[index] = []
            self._venue.clock.schedule_at(close_ms, lambda: self._close_bar(index))
        batch.append((order, entry))

    def _close_bar(self, index: int) -> None:
        batch = self._closing.pop(index, [])
        batch.sort(key=_arrival)
        for _, entry in batch:
            if not entry.cancelled:
                entry.callback()

    def _schedule(self, order: VenueOrder, at_ms: int, index: int, action: Action) -> None:
        order.timer = self._venue.clock.schedule_at(at_ms, self._rearm(order, index, action))

    @staticmethod
    def _rearm(order: VenueOrder, index: int, action: Action) -> TimerCallback:
        """Drop what `order` waited for; the callback that runs `action` on it, unless it has
        closed by then."""
        if order.timer is not None:
            order.cancel_timer()

        def run() -> None:
            order.timer = None
            if not order.closed:
                action(order, index)

        return run


def _arrival(item: tuple[VenueOrder, Timer]) -> tuple[int, str]:
    """When the venue took the order: its venue order id is the venue's running count."""
    venue_order_id = item[0].venue_order_id
    return (int(venue_order_id), "") if venue_order_id.isdigit() else (0, venue_order_id)
