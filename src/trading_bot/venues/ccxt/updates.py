"""OrderUpdates: what the venue says about our orders after the request, reaching `OrderTracker`.

- Updates come from `watch_orders` / `watch_my_trades` when the venue has streams, and from
  polling otherwise (with streams, polling stays on as a slow safety net). While a stream
  reconnects every open order is polled, and once more shortly after (what happened before
  the new subscription took effect). Each update is reported once (`OrderTracker`), whichever
  path tells it first.
- A request's own answer (create, cancel, modify) is applied through `apply` too: one way from
  a ccxt order to reports, fetching the order's trades when the venue counts fills the tracker
  has not seen.
- The streams run on a ccxt client of their own, thrown away after any stream failure: ccxt's
  stream state after an error is not trusted (4.5.90 leaves a refused user-data subscription
  pending forever, so every later watch would wait on it), and the market data feed sharing
  the venue's `exchange` is not disturbed by the rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from trading_bot.domain.order_status import OrderStatus
from trading_bot.engine.clock import Clock
from trading_bot.intake.source import Backoff
from trading_bot.venues.base import VenueQueryError
from trading_bot.venues.ccxt.client import build_client
from trading_bot.venues.ccxt.guard import RequestGuard
from trading_bot.venues.ccxt.params import CCXTVenueParams
from trading_bot.venues.ccxt.queries import VenueQueries
from trading_bot.venues.ccxt.tasks import BackgroundTasks
from trading_bot.venues.ccxt.tracked import OrderTracker, TrackedOrder

S = OrderStatus
STREAM_POLL_FACTOR = 10  # with streams, polling is a slow safety net
RESUBSCRIBE_POLL_S = 2.0  # after a stream reconnects: poll again once it is subscribed


def _cancelled_from_outside() -> bool:
    """Whether the running task itself is being cancelled (not just something it awaited)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


class OrderUpdates:
    def __init__(
        self,
        params: CCXTVenueParams,
        exchange: Any,
        guard: RequestGuard,
        queries: VenueQueries,
        tracker: OrderTracker,
        clock: Clock,
        *,
        balances_moved: Callable[[], None],
    ) -> None:
        self.params = params
        self.exchange = exchange
        self.guard = guard
        self.queries = queries
        self.tracker = tracker
        self.clock = clock
        self.balances_moved = balances_moved  # after each batch of orders from the stream
        self._stream_client: Any = None  # the streams' own ccxt client (see the module doc)
        self._loops: list[asyncio.Task[None]] = []
        self._polls = BackgroundTasks()  # one-off polls after a reconnect

    def start(self) -> None:
        """The streams the venue has (if `use_websocket`), and polling."""
        if self.params.use_websocket and self.exchange.has.get("watchOrders"):
            self._loops.append(asyncio.create_task(self._stream("orders", self._watch_orders)))
            if self.exchange.has.get("watchMyTrades"):
                self._loops.append(asyncio.create_task(self._stream("trades", self._watch_trades)))
            interval = self.params.poll_interval_s * STREAM_POLL_FACTOR
        else:
            interval = self.params.poll_interval_s
        self._loops.append(asyncio.create_task(self._poll_every(interval)))

    async def stop(self) -> None:
        """Cancel the streams and polls, wait for them to end, close the streams' client."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, self._polls.cancel_all(), return_exceptions=True)
        self._loops.clear()
        await self._discard_stream_client(self._stream_client)

    async def apply(self, tracked: TrackedOrder, view: dict[str, Any]) -> None:
        """Report what `view` (a ccxt order) adds, with its trades when the venue counts fills
        not reported yet."""
        tracker = self.tracker
        if tracker.apply_order(tracked, view, self.clock.now_ms()):
            return
        for trade in await self.queries.trades_of(view):
            tracker.apply_trade(tracked, trade, self.clock.now_ms(), taker=True)
        tracker.apply_order(tracked, view, self.clock.now_ms())

    async def refresh(self, tracked: TrackedOrder) -> None:
        """Ask the venue about the order and apply its answer (nothing if it has no such order)."""
        order = tracked.order
        view = await self.queries.order_view(order.client_order_id, order.symbol)
        if view is None:
            return
        await self.apply(tracked, view)

    # -- streams --------------------------------------------------------------------------------

    async def _watch_orders(self, client: Any, alive: Callable[[], None]) -> None:
        tracker = self.tracker
        while True:
            views = await client.watch_orders()
            alive()
            for view in views:
                client_id = view.get("clientOrderId")
                tracked = tracker.orders.get(str(client_id)) if client_id else None
                if tracked is None and not client_id:  # a venue that names orders by id only
                    tracked = tracker.by_venue_id(str(view.get("id")))
                if tracked is not None:
                    await self.apply(tracked, view)
            self.balances_moved()

    async def _watch_trades(self, client: Any, alive: Callable[[], None]) -> None:
        tracker = self.tracker
        while True:
            trades = await client.watch_my_trades()
            alive()
            for trade in trades:
                tracked = tracker.by_venue_id(str(trade.get("order")))
                if tracked is not None:
                    tracker.apply_trade(
                        tracked,
                        trade,
                        self.clock.now_ms(),
                        taker=trade.get("takerOrMaker") != "maker",
                    )

    async def _stream(
        self, name: str, watch: Callable[[Any, Callable[[], None]], Awaitable[None]]
    ) -> None:
        """Run a stream until stopped. After a failure: a fresh stream client, back-off, and
        every open order polled (what happened while it was down) before and shortly after
        resubscribing; the back-off starts over once updates flow again."""
        backoff = Backoff(initial_s=0.5, max_s=30.0)
        down = False

        def alive() -> None:
            nonlocal down
            backoff.reset()
            if down:
                down = False
                logger.info("venue {} stream is back", name)

        while True:
            client = self._streams()
            try:
                if down:
                    await self._poll_open_orders()
                    self._polls.spawn(self._poll_later(RESUBSCRIBE_POLL_S))
                await watch(client, alive)
                continue
            except asyncio.CancelledError:
                if _cancelled_from_outside():
                    raise
                # ccxt cancels what waits on a client being closed (the other stream replacing
                # it): a failure of this watch, not the end of the updates
                error: Exception = RuntimeError("stream client closed under the watch")
            except Exception as failure:
                error = failure
            if not down:
                logger.warning(
                    "venue {} stream dropped ({}); reconnecting",
                    name,
                    self.guard.classify(error).detail,
                )
            down = True
            await self._discard_stream_client(client)
            await asyncio.sleep(backoff.next_delay())

    def _streams(self) -> Any:
        """The streams' ccxt client, built on first use with the markets already loaded."""
        if self._stream_client is None:
            client = build_client(self.params)
            client.set_markets(self.exchange.markets, self.exchange.currencies)
            self._stream_client = client
        return self._stream_client

    async def _discard_stream_client(self, client: Any) -> None:
        """Close `client` if it is still the streams' one (the other stream may have replaced
        it already: then it is closed, and only the current one is used from now on)."""
        if client is None or client is not self._stream_client:
            return
        self._stream_client = None
        with contextlib.suppress(Exception):
            await client.close()

    # -- polling --------------------------------------------------------------------------------

    async def _poll_later(self, delay_s: float) -> None:
        await asyncio.sleep(delay_s)
        with contextlib.suppress(VenueQueryError):
            await self._poll_open_orders()

    async def _poll_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self._poll_open_orders()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning(
                    "polling the venue failed ({}); retrying in {} s",
                    self.guard.classify(error).detail,
                    interval_s,
                )

    async def _poll_open_orders(self) -> None:
        for tracked in self.tracker.open_orders():
            if tracked.order.status is not S.SUBMITTED or tracked.venue_id is not None:
                await self.refresh(tracked)
