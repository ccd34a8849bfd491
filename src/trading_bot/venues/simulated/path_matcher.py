"""Matching on bars, or on trades (zero-length bars), without look-ahead.

Conventions (the README has them too):
- An order is processed at the open of the first bar at or after its arrival time.
- Market: fills at that open (plus slippage). Over a volume cap, the rest fills at the next
  bars' opens.
- Limit, on arrival: if marketable at the open it fills there as taker (IOC/FOK too: FOK only
  if the whole amount fits under the volume cap); otherwise IOC/FOK expire, post-only rejects
  if it would cross, GTC rests and may fill later in the same bar.
- A resting limit fills when a bar trades through its price (low < limit for a buy, high >
  limit for a sell; `limit_fill: touch` also fills at equality), at the limit, or on bars at
  the open if the bar gapped through it. Trades never "gap": a trade through the price fills
  at the limit.
- Stops trigger when the bar reaches the trigger (high >= trigger for a buy, low <= for a
  sell), at the trigger, or at the open if the bar opened beyond it. A stop-market then fills
  there as taker (plus slippage); a stop-limit becomes a limit that is marketable if the
  trigger price is within its limit, else rests (and may still fill later in that bar).
- OCO legs that could both act in one bar: the one reached at the open goes first; otherwise
  the stop leg (`oco_same_bar: stop_first`, default) or the limit leg (`limit_first`).
- `max_volume_share` caps fills per bar (or trade) across all orders of the symbol.

Bars where nothing can happen cost nothing: each resting order finds the next bar that could
touch it with a vectorized scan and sleeps on a clock timer until then.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np

from trading_bot.domain.enums import LiquiditySide, OrderType, Side, TimeInForce
from trading_bot.domain.market import Market
from trading_bot.domain.money import floor_to_step
from trading_bot.domain.rejections import RejectionReason
from trading_bot.market_data.bars import BarSeries
from trading_bot.market_data.marks import MarkSeries
from trading_bot.venues.simulated.params import FillRules, SlippageModel
from trading_bot.venues.simulated.pricing import marketable, passes_through, scaled_bound, slipped
from trading_bot.venues.simulated.venue_order import VenueOrder

if TYPE_CHECKING:
    from trading_bot.venues.simulated.exchange import SimulatedExchange

R = RejectionReason
# An order this long before the first data point is not filled on it: the data is missing, not late.
STALE_START_MS = 60_000

TAKER, MAKER = LiquiditySide.TAKER, LiquiditySide.MAKER


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
        self._volume_used: dict[int, Decimal] = {}
        self._n = len(series)

    def marks(self) -> MarkSeries:
        return self._series.marks()

    # -- entry points from the exchange ---------------------------------------------------------

    def arrive(self, order: VenueOrder) -> None:
        now = self._venue.now()
        index = self._series.first_at_or_after(now)
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

        self._at(order, index, self._start)

    def remove(self, order: VenueOrder) -> None:
        order.cancel_timer()

    def reprice(self, order: VenueOrder) -> None:
        """After a modification: look again from the next bar on."""
        if not order.closed:
            self._sleep_until_touched(order, self._series.first_at_or_after(self._venue.now()))

    # -- processing -----------------------------------------------------------------------------

    def _start(self, order: VenueOrder, index: int) -> None:
        venue = self._venue
        order.start_index = index
        expiry = order.expires_at_ms
        if expiry is not None and venue.now() > expiry:
            venue.expire(
                order, R.EXPIRED, f"its first {order.symbol} bar came after its expiry {expiry}"
            )
            return
        open_price = self._price(self._series.open, index)
        if order.order_type is OrderType.MARKET:
            amount, price = self._taker_terms(order, index, open_price)
            if amount * price < self._market.min_notional:
                venue.reject(
                    order,
                    R.BELOW_MIN_NOTIONAL,
                    f"notional {amount * price} < {self._market.min_notional}",
                )
                return
            if amount > 0 and not venue.affordable(order, amount, price):
                venue.reject(
                    order, R.INSUFFICIENT_BALANCE, self._unaffordable(order, amount, price)
                )
                return
            if venue.accept(order):
                self._fill_market(order, index, open_price, terms=(amount, price))
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
        if not venue.accept(order):
            return
        if order.oco_group is not None:
            # let the other legs arrive first, so one bar that reaches several legs is settled
            # by the OCO rule rather than by arrival order
            self._at(order, index, self._wake)
        else:
            self._evaluate(order, index)

    def _wake(self, order: VenueOrder, index: int) -> None:
        if order.oco_group is not None:
            first = self._oco_first(order, index)
            if first is not order:
                self._evaluate(first, index)
                if order.closed:
                    return
        self._evaluate(order, index)

    def _evaluate(self, order: VenueOrder, index: int) -> None:
        """Everything `order` does in bar `index`; then sleep until it could act again."""
        if order.acts_as_market:
            self._fill_market(order, index, self._price(self._series.open, index))
            return
        if order.order_type.has_trigger and not order.triggered:
            trigger = self._trigger_price(order, index)
            if trigger is None:
                self._sleep_until_touched(order, index + 1)
                return
            self._venue.trigger(order)
            if order.order_type is OrderType.STOP_MARKET:
                self._fill_market(order, index, trigger)
                return
            self._limit_in_bar(order, index, trigger, fresh=True)
            return
        fresh = index == order.start_index
        self._limit_in_bar(order, index, self._price(self._series.open, index), fresh=fresh)

    def _limit_in_bar(
        self, order: VenueOrder, index: int, reference: Decimal, *, fresh: bool
    ) -> None:
        limit = order.price
        assert limit is not None
        side = order.side
        if fresh and marketable(side, limit, reference):
            self._fill(order, index, reference, TAKER, slip=True, cap=limit)
            if not order.closed and order.time_in_force is not TimeInForce.GTC:
                self._venue.expire(order, R.WOULD_NOT_FILL, "the rest of an IOC order")
                return
        elif fresh and order.time_in_force is not TimeInForce.GTC:
            self._venue.expire(
                order, R.WOULD_NOT_FILL, f"limit {limit} was not marketable at {reference}"
            )
            return
        elif not fresh and self._gaps and passes_through(side, limit, reference, touch=self._touch):
            self._fill(order, index, reference, MAKER)
        elif passes_through(side, limit, self._extreme(order, index), touch=self._touch):
            self._fill(order, index, limit, MAKER)
        if not order.closed:
            self._sleep_until_touched(order, index + 1)

    def _fill_market(
        self,
        order: VenueOrder,
        index: int,
        price: Decimal,
        *,
        terms: tuple[Decimal, Decimal] | None = None,
    ) -> None:
        """Fill at `price` (plus slippage); what the volume cap leaves goes on at the next
        bar's open. `terms` are the (amount, price) already checked for this bar."""
        if terms is None:
            self._fill(order, index, price, TAKER, slip=True)
        else:
            self._execute(order, index, *terms, TAKER)

        if order.closed:
            return
        if index + 1 < self._n:
            self._at(order, index + 1, self._wake)
        else:
            self._venue.expire(
                order, R.NO_MARKET_DATA, "no data left to fill the rest of the order"
            )

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
        amount, fill_price = (
            self._taker_terms(order, index, price)
            if slip
            else (self._fillable(order, index, price), price)
        )
        if cap is not None:
            fill_price = min(fill_price, cap) if order.side is Side.BUY else max(fill_price, cap)
        if order.time_in_force is TimeInForce.FOK and amount < order.remaining:
            self._venue.expire(
                order, R.WOULD_NOT_FILL, f"only {amount} of {order.remaining} could fill"
            )
            return
        if amount <= 0:
            return
        if not self._venue.affordable(order, amount, fill_price):
            self._venue.expire(
                order, R.INSUFFICIENT_BALANCE, self._unaffordable(order, amount, fill_price)
            )
            return
        self._execute(order, index, amount, fill_price, liquidity)

    def _execute(
        self,
        order: VenueOrder,
        index: int,
        amount: Decimal,
        price: Decimal,
        liquidity: LiquiditySide,
    ) -> None:
        if self._rules.max_volume_share is not None:
            self._volume_used[index] = self._volume_used.get(index, Decimal(0)) + amount
        self._venue.fill(order, amount, price, liquidity)

    # -- prices, volumes and scans --------------------------------------------------------------

    def _taker_terms(
        self, order: VenueOrder, index: int, price: Decimal
    ) -> tuple[Decimal, Decimal]:
        amount = self._fillable(order, index, price)
        if self._slippage.model == "none":
            return amount, price
        volume = self._base_volume(index, price)
        share = amount / volume if volume else None
        return amount, slipped(price, order.side, self._slippage, self._market, share)

    def _fillable(self, order: VenueOrder, index: int, price: Decimal) -> Decimal:
        share = self._rules.max_volume_share
        if share is None:
            return order.remaining
        room = share * self._base_volume(index, price) - self._volume_used.get(index, Decimal(0))
        if len(self._volume_used) > 1024:
            self._volume_used = {i: v for i, v in self._volume_used.items() if i >= index}
        return min(order.remaining, floor_to_step(max(room, Decimal(0)), self._market.amount_step))

    def _base_volume(self, index: int, price: Decimal) -> Decimal:
        volume = Decimal(repr(float(self._series.volume[index])))
        if self._rules.bar_volume_in == "quote" and not self._series.is_trades:
            return volume / price
        return volume

    def _price(self, column: np.ndarray, index: int) -> Decimal:
        return self._series.price(column[index])

    def _extreme(self, order: VenueOrder, index: int) -> Decimal:
        """The bar's price most favourable to a resting limit: its low for a buy, high for a sell."""
        column = self._series.low if order.side is Side.BUY else self._series.high
        return self._price(column, index)

    def _trigger_price(self, order: VenueOrder, index: int) -> Decimal | None:
        trigger = order.trigger_price
        assert trigger is not None
        open_price = self._price(self._series.open, index)
        if order.side is Side.BUY:
            if open_price >= trigger:
                return open_price
            return trigger if self._price(self._series.high, index) >= trigger else None
        if open_price <= trigger:
            return open_price
        return trigger if self._price(self._series.low, index) <= trigger else None

    def _acts_in_bar(self, order: VenueOrder, index: int) -> tuple[bool, bool]:
        """(can act in this bar, already at its open) for an OCO tie-break."""
        open_price = self._price(self._series.open, index)
        if order.order_type.has_trigger and not order.triggered:
            trigger = order.trigger_price
            assert trigger is not None
            at_open = open_price >= trigger if order.side is Side.BUY else open_price <= trigger
            return (at_open or self._trigger_price(order, index) is not None), at_open
        limit = order.price
        assert limit is not None
        at_open = self._gaps and passes_through(order.side, limit, open_price, touch=self._touch)
        in_bar = passes_through(order.side, limit, self._extreme(order, index), touch=self._touch)
        return at_open or in_bar, at_open

    def _oco_first(self, order: VenueOrder, index: int) -> VenueOrder:
        """Of this leg and its open siblings acting in bar `index`, the one that goes first."""
        contenders = [
            leg
            for leg in self._venue.oco_legs(order)
            if not leg.closed and leg.accepted and self._acts_in_bar(leg, index)[0]
        ]
        if len(contenders) < 2:
            return order
        at_open = [leg for leg in contenders if self._acts_in_bar(leg, index)[1]]
        if len(at_open) == 1:
            return at_open[0]
        stops_first = self._rules.oco_same_bar == "stop_first"
        ranked = sorted(contenders, key=lambda leg: leg.order_type.has_trigger != stops_first)
        return ranked[0]

    def _sleep_until_touched(self, order: VenueOrder, start: int) -> None:
        index = self._next_touch(order, start)
        if index < self._n:
            self._at(order, index, self._wake)

    def _next_touch(self, order: VenueOrder, start: int) -> int:
        """First bar from `start` on where `order` could trigger or fill (len if none)."""
        if start >= self._n:
            return self._n
        series, scale = self._series, self._series.price_scale
        buy = order.side is Side.BUY
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

    def _at(self, order: VenueOrder, index: int, action: Callable[[VenueOrder, int], None]) -> None:
        order.cancel_timer()

        def run() -> None:
            order.timer = None
            if not order.closed:
                action(order, index)

        order.timer = self._venue.clock.schedule_at(self._series.ts_list[index], run)

    def _unaffordable(self, order: VenueOrder, amount: Decimal, price: Decimal) -> str:
        market = self._market
        if order.side is Side.BUY:
            return f"buy of {amount} {market.base} at {price} needs {amount * price * (1 + market.taker_fee)} {market.quote} with fee"
        return f"sell of {amount} {market.base} exceeds the free balance"
