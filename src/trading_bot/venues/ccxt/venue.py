"""CCXTVenue: a live venue through ccxt (REST for requests, ccxt.pro streams for updates).

The core calls `submit_order` / `cancel_order` / `modify_order` and never waits: each starts a
task that talks to the venue and reports the outcome through `VenueReports`, like the
simulated venue does from its timers. The rules that keep money safe:

- An order is created once. If the create gets no clear answer (timeout, dropped
  connection, 5xx) it is looked up by its client order id until found or until the venue's
  receive window has passed (after that a lost request can no longer execute): then it is
  rejected as never placed. It is never sent again.
- Queries and cancels are retried (`RequestGuard`); 429s pause sending, a 418 stops it and
  alerts, repeated failures open the circuit breaker (the service pauses intake).
- Updates come from `watch_orders` / `watch_my_trades` when the venue has streams, and from
  polling otherwise; while a stream reconnects every open order is polled, and once more
  shortly after (what happened before the new subscription took effect). Each update is
  reported once (`OrderTracker`).
- The streams run on a ccxt client of their own, thrown away after any stream failure: ccxt's
  stream state after an error is not trusted (4.5.90 leaves a refused user-data subscription
  pending forever, so every later watch would wait on it), and the market data feed sharing
  `exchange` is not disturbed by the rebuild.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from decimal import Decimal
from typing import Any

from loguru import logger

from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.intake.source import Backoff
from trading_bot.venues.base import Venue, VenueOrderSnapshot, VenueQueryError, VenueReports
from trading_bot.venues.ccxt.client import build_client
from trading_bot.venues.ccxt.errors import Outcome
from trading_bot.venues.ccxt.guard import RequestGuard
from trading_bot.venues.ccxt.params import CCXTVenueParams
from trading_bot.venues.ccxt.tracked import OrderTracker, TrackedOrder
from trading_bot.venues.ccxt.translate import (
    CLOSED_STATUS,
    create_args,
    decimal,
    fill_from_trade,
    market_from_ccxt,
    order_type_of,
    side_of,
)
from trading_bot.venues.order_rules import invalid_order

S = OrderStatus
R = RejectionReason
LOOKUP_MARGIN_MS = 2_000  # clock skew allowance on top of the receive window
STREAM_POLL_FACTOR = 10  # with streams, polling is a slow safety net
RESUBSCRIBE_POLL_S = 2.0  # after a stream reconnects: poll again once it is subscribed


def _cancelled_from_outside() -> bool:
    """Whether the running task itself is being cancelled (not just something it awaited)."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


class VenueNotConnected(RuntimeError):
    """`connect()` was not awaited (or failed) before the venue was used."""


class CCXTVenue(Venue):
    Params = CCXTVenueParams
    params: CCXTVenueParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.lookup_settle_ms = self.params.recv_window_ms + LOOKUP_MARGIN_MS  # type: ignore[misc]
        self.exchange: Any = None
        self._stream_client: Any = None  # the streams' own ccxt client (see the module doc)
        self._markets: dict[str, Market] = {}
        self._balances: dict[str, Decimal] = {}
        self._reports: VenueReports | None = None
        self._clock: Clock | None = None
        self._tracker: OrderTracker | None = None
        self._guard: RequestGuard | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._balance_refresh: asyncio.Task[None] | None = None
        self.on_ban: Callable[[str], None] = lambda detail: None
        self.on_health: Callable[[bool], None] = lambda healthy: None

    # -- lifecycle ------------------------------------------------------------------------------

    async def connect(self, clock: Clock) -> None:
        """Build the client, load markets and balances. Raises `VenueQueryError` with a
        message fit for the user when the venue cannot be reached or refuses the keys."""
        self._clock = clock
        self._guard = RequestGuard(
            clock,
            self.params.retry,
            self.params.breaker,
            secrets=self.secrets(),
            on_ban=lambda detail: self.on_ban(detail),
            on_change=lambda healthy: self.on_health(healthy),
            probe=lambda: self.exchange.fetch_time(),
        )
        self.exchange = build_client(self.params)
        try:
            markets = await self._query(self.exchange.load_markets)
            wanted = self.params.symbols or list(markets)
            missing = [symbol for symbol in wanted if symbol not in markets]
            if missing:
                raise VenueQueryError(
                    f"exchange.params.symbols: {', '.join(missing)} not listed by "
                    f"{self.params.exchange}"
                )
            mode = self.exchange.precisionMode
            self._markets = {s: market_from_ccxt(markets[s], mode) for s in wanted}
            if self.params.credentials.api_key is not None:
                self._balances = await self.fetch_balances()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._guard is not None:
            await self._guard.close()
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)
        self._loops.clear()
        self._tasks.clear()
        # both clients at once: ccxt's close waits a quarter second after the sockets
        await asyncio.gather(
            self._discard_stream_client(self._stream_client), self._close_exchange()
        )

    async def _close_exchange(self) -> None:
        if self.exchange is not None:
            with contextlib.suppress(Exception):
                await self.exchange.close()

    def secrets(self) -> frozenset[str]:
        credentials = self.params.credentials
        return frozenset(
            s.get_secret_value()
            for s in (credentials.api_key, credentials.secret, credentials.password)
            if s is not None
        )

    def bind(self, reports: VenueReports, clock: Clock) -> None:
        self._reports = reports
        self._clock = clock
        self._tracker = OrderTracker(reports)
        if self.exchange is None:
            raise VenueNotConnected("CCXTVenue.connect() must be awaited before bind()")
        if self.params.use_websocket and self.exchange.has.get("watchOrders"):
            self._loops.append(asyncio.create_task(self._stream("orders", self._watch_orders)))
            if self.exchange.has.get("watchMyTrades"):
                self._loops.append(asyncio.create_task(self._stream("trades", self._watch_trades)))
            interval = self.params.poll_interval_s * STREAM_POLL_FACTOR
        else:
            interval = self.params.poll_interval_s
        self._loops.append(asyncio.create_task(self._poll_every(interval)))

    def follow(self, order: Order) -> None:
        """An order still open from before a restart: keep reporting on it."""
        self._tracker_or_raise().track(order, self._now())

    # -- Venue ----------------------------------------------------------------------------------

    def market(self, symbol: str) -> Market | None:
        return self._markets.get(symbol)

    def markets(self) -> list[str]:
        """The symbols the bot trades here (`params.symbols`, or all the venue lists)."""
        return list(self._markets)

    def balances(self) -> dict[str, Decimal]:
        return dict(self._balances)

    def submit_order(self, order: Order) -> None:
        tracked = self._tracker_or_raise().track(order, self._now())
        self._spawn(self._create(tracked))

    def cancel_order(self, order: Order) -> None:
        self._spawn(self._cancel(order))

    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        self._spawn(self._modify(order, amount, price))

    async def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrderSnapshot | None:
        view = await self._order_view(client_order_id, symbol)
        if view is None:
            return None
        trades = await self._trades_of(view) if (decimal(view.get("filled")) or 0) > 0 else []
        return self._snapshot(client_order_id, view, trades)

    async def fetch_open_orders(self) -> list[VenueOrderSnapshot]:
        views = await self._query(self.exchange.fetch_open_orders)
        snapshots = []
        for view in views:
            coid = view.get("clientOrderId")
            if not coid or (self.params.symbols and view.get("symbol") not in self._markets):
                continue
            filled = decimal(view.get("filled")) or 0
            trades = await self._trades_of(view) if filled > 0 else []
            snapshots.append(self._snapshot(str(coid), view, trades))
        return snapshots

    async def fetch_balances(self) -> dict[str, Decimal]:
        raw = await self._query(self.exchange.fetch_balance)
        totals = raw.get("total") or {}
        balances = {
            asset: amount
            for asset, value in totals.items()
            if (amount := decimal(value)) is not None
        }
        self._balances = balances
        return dict(balances)

    # -- requests -------------------------------------------------------------------------------

    async def _create(self, tracked: TrackedOrder) -> None:
        guard, tracker = self._guard_or_raise(), self._tracker_or_raise()
        order = tracked.order
        market = self._markets.get(order.symbol)
        if market is None:
            tracker.reject(tracked, R.UNKNOWN_ASSET, f"{order.symbol} is not traded here")
            return
        problem = invalid_order(order, market)  # ccxt would round it quietly: refuse instead
        if problem is None:
            refusal = guard.refusal()
            problem = (refusal.reason, refusal.detail) if refusal is not None else None
        if problem is not None:
            tracker.reject(tracked, *problem)
            return
        args = create_args(order)
        try:
            view = await guard.once(lambda: self.exchange.create_order(**args))
        except Exception as error:
            reading = guard.classify(error)
            if reading.outcome is Outcome.UNKNOWN:
                logger.warning(
                    "order {}: no clear answer to the create ({}); looking it up by client "
                    "order id, never sending it again",
                    tracked.order.client_order_id,
                    reading.detail,
                )
                await self._resolve_unknown(tracked)
            else:
                tracker.reject(tracked, reading.reason, reading.detail)
            return
        await self._apply(tracked, view)
        self._refresh_balances_soon()

    async def _resolve_unknown(self, tracked: TrackedOrder) -> None:
        """Find out whether a create with no answer reached the venue."""
        order = tracked.order
        deadline = tracked.sent_ms + self.lookup_settle_ms
        backoff = Backoff(initial_s=0.2, max_s=2.0)
        while True:
            try:
                view = await self._order_view(order.client_order_id, order.symbol)
            except VenueQueryError as error:
                view, failure = None, str(error)
            else:
                failure = ""
                if view is not None:
                    await self._apply(tracked, view)
                    return
                if self._now() > deadline:
                    self._tracker_or_raise().reject(
                        tracked,
                        R.VENUE_UNAVAILABLE,
                        "the create got no answer and the venue has no such order after its "
                        "receive window: it was not placed",
                    )
                    return
            if failure and self._now() > deadline + 60_000:
                logger.error(
                    "order {}: still cannot ask the venue whether it was placed ({}); "
                    "reconciliation keeps trying",
                    order.client_order_id,
                    failure,
                )
                return
            delay_s = backoff.next_delay()
            if not failure:  # the last look is the one just past the deadline: not later
                delay_s = min(delay_s, max(0.05, (deadline - self._now()) / 1000 + 0.05))
            await asyncio.sleep(delay_s)

    async def _cancel(self, order: Order) -> None:
        guard, tracker = self._guard_or_raise(), self._tracker_or_raise()
        coid = order.client_order_id
        tracked = tracker.orders.get(coid) or tracker.track(order, self._now())
        try:
            view = await guard.repeatable(
                lambda: self.exchange.cancel_order(
                    tracked.venue_id, order.symbol, self._by_client_id(tracked)
                )
            )
        except Exception as error:
            reading = guard.classify(error)
            if reading.outcome is Outcome.NOT_FOUND:
                # gone already: filled, canceled (perhaps by our own earlier attempt, whose
                # answer was lost and which the stream may have reported meanwhile) or never
                # placed; what the venue says about it comes first
                if not tracked.closed_reported:
                    with contextlib.suppress(VenueQueryError):
                        await self._refresh(tracked)
                if order.status is S.CANCELED or tracked.canceled:
                    return
            self._reports_or_raise().cancel_rejected(coid, reading.reason, reading.detail)
            return
        await self._apply(tracked, view)
        if order.is_open and CLOSED_STATUS.get(str(view.get("status"))) is None:
            await self._refresh(tracked)  # some venues answer a cancel with the order as it was
        self._refresh_balances_soon()

    async def _modify(self, order: Order, amount: Decimal | None, price: Decimal | None) -> None:
        guard, tracker = self._guard_or_raise(), self._tracker_or_raise()
        reports = self._reports_or_raise()
        coid = order.client_order_id
        tracked = tracker.orders.get(coid) or tracker.track(order, self._now())
        new_amount = amount if amount is not None else order.amount
        new_price = price if price is not None else (order.price or order.trigger_price)
        remaining = new_amount - tracked.reported
        market = self._markets.get(order.symbol)
        if tracked.venue_id is None or tracked.closed_reported or market is None:
            reports.modify_rejected(
                coid, R.ORDER_NOT_FOUND, "the venue has no open order with that id"
            )
            return
        changed = replace(
            order,
            amount=remaining,
            price=new_price if order.order_type.has_limit_price else order.price,
            trigger_price=order.trigger_price if order.order_type.has_limit_price else new_price,
        )
        # a cancel-replace whose new order is refused leaves the old one canceled: check first
        problem = (
            invalid_order(changed, market)
            if remaining > 0
            else (R.INVALID_ORDER, "nothing left to modify")
        )
        if problem is not None:
            reports.modify_rejected(coid, *problem)
            return
        args = create_args(order)
        replaced = tracked.venue_id
        # the cancel half of the cancel-replace may reach the stream before the answer does:
        # it is not the order's end (the new order carries the same client order id)
        tracked.replacing = replaced
        try:
            view = await guard.once(
                lambda: self.exchange.edit_order(
                    replaced,
                    order.symbol,
                    args["type"],
                    args["side"],
                    str(remaining),
                    str(new_price) if new_price is not None else None,
                    args["params"],
                )
            )
        except Exception as error:
            tracked.replacing = None
            reading = guard.classify(error)
            with contextlib.suppress(VenueQueryError):
                await self._refresh(tracked)  # the newest order with our client order id
            if tracked.venue_id != replaced and order.is_open:
                # no answer, but the venue did it: the new order is there (never sent twice)
                tracked.filled_before = order.filled_amount
                reports.order_modified(coid, new_amount, price)
            elif order.is_open:
                reports.modify_rejected(coid, reading.reason, reading.detail)
            return
        tracked.replacing = None
        tracked.filled_before = order.filled_amount
        tracker.add_venue_id(tracked, str(view["id"]))
        reports.order_modified(coid, new_amount, price)
        await self._apply(tracked, view)

    # -- updates --------------------------------------------------------------------------------

    async def _apply(self, tracked: TrackedOrder, view: dict[str, Any]) -> None:
        tracker = self._tracker_or_raise()
        if tracker.apply_order(tracked, view, self._now()):
            return
        for trade in await self._trades_of(view):
            tracker.apply_trade(tracked, trade, self._now(), taker=True)
        tracker.apply_order(tracked, view, self._now())

    async def _refresh(self, tracked: TrackedOrder) -> None:
        order = tracked.order
        view = await self._order_view(order.client_order_id, order.symbol)
        if view is None:
            return
        await self._apply(tracked, view)

    async def _watch_orders(self, client: Any, alive: Callable[[], None]) -> None:
        tracker = self._tracker_or_raise()
        while True:
            views = await client.watch_orders()
            alive()
            for view in views:
                tracked = tracker.orders.get(str(view.get("clientOrderId")))
                if tracked is None:
                    tracked = tracker.by_venue_id(str(view.get("id")))
                if tracked is not None:
                    await self._apply(tracked, view)
            self._refresh_balances_soon()

    async def _watch_trades(self, client: Any, alive: Callable[[], None]) -> None:
        tracker = self._tracker_or_raise()
        while True:
            trades = await client.watch_my_trades()
            alive()
            for trade in trades:
                tracked = tracker.by_venue_id(str(trade.get("order")))
                if tracked is not None:
                    tracker.apply_trade(
                        tracked, trade, self._now(), taker=trade.get("takerOrMaker") != "maker"
                    )

    async def _stream(
        self, name: str, watch: Callable[[Any, Callable[[], None]], Awaitable[None]]
    ) -> None:
        """Run a stream for as long as the venue is open. After a failure: a fresh stream
        client, back-off, and every open order polled (what happened while it was down) before
        and shortly after resubscribing; the back-off starts over once updates flow again."""
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
                    self._spawn(self._poll_later(RESUBSCRIBE_POLL_S))
                await watch(client, alive)
                continue
            except asyncio.CancelledError:
                if _cancelled_from_outside():
                    raise
                # ccxt cancels what waits on a client being closed (the other stream replacing
                # it): a failure of this watch, not the end of the venue
                error: Exception = RuntimeError("stream client closed under the watch")
            except Exception as failure:
                error = failure
            if not down:
                logger.warning(
                    "venue {} stream dropped ({}); reconnecting",
                    name,
                    self._guard_or_raise().classify(error).detail,
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
                    self._guard_or_raise().classify(error).detail,
                    interval_s,
                )

    async def _poll_open_orders(self) -> None:
        for tracked in self._tracker_or_raise().open_orders():
            if tracked.order.status is not S.SUBMITTED or tracked.venue_id is not None:
                await self._refresh(tracked)

    def _refresh_balances_soon(self) -> None:
        if self._balance_refresh is not None and not self._balance_refresh.done():
            return
        if self.params.credentials.api_key is None:
            return

        async def refresh() -> None:
            with contextlib.suppress(VenueQueryError):
                await self.fetch_balances()

        self._balance_refresh = asyncio.get_running_loop().create_task(refresh())

    # -- queries --------------------------------------------------------------------------------

    async def _order_view(self, client_order_id: str, symbol: str) -> dict[str, Any] | None:
        guard = self._guard_or_raise()
        try:
            return await guard.repeatable(
                lambda: self.exchange.fetch_order(None, symbol, {"clientOrderId": client_order_id})
            )
        except Exception as error:
            reading = guard.classify(error)
            if reading.outcome is Outcome.NOT_FOUND:
                return None
            raise VenueQueryError(reading.detail) from None

    async def _trades_of(self, view: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._query(
            lambda: self.exchange.fetch_my_trades(
                view["symbol"], None, None, {"orderId": view["id"]}
            )
        )

    async def _query(self, call: Callable[[], Awaitable[Any]]) -> Any:
        guard = self._guard_or_raise()
        try:
            return await guard.repeatable(call)
        except Exception as error:
            raise VenueQueryError(guard.classify(error).detail) from None

    def _snapshot(
        self, client_order_id: str, view: dict[str, Any], trades: list[dict[str, Any]]
    ) -> VenueOrderSnapshot:
        symbol = str(view["symbol"])
        side = side_of(str(view.get("side")))
        amount = decimal(view.get("amount")) or Decimal(0)
        probe = Order(client_order_id, symbol, side, order_type_of(view), amount, 0, "")
        fills = tuple(
            fill_from_trade(t, probe, default_ts_ms=self._now(), default_taker=True) for t in trades
        )
        filled = decimal(view.get("filled")) or Decimal(0)
        status = CLOSED_STATUS.get(str(view.get("status")))
        if status is None:
            status = S.PARTIALLY_FILLED if filled > 0 else S.ACCEPTED
        elif status is S.FILLED and filled < amount:
            status = S.CANCELED  # closed short of its amount: the venue ended it
        return VenueOrderSnapshot(
            client_order_id,
            str(view.get("id")),
            symbol,
            side,
            probe.order_type,
            amount,
            decimal(view.get("price")) if probe.order_type.has_limit_price else None,
            decimal(view.get("triggerPrice")),
            status,
            filled,
            fills,
            R.INVALID_ORDER if status is S.REJECTED else None,
            str((view.get("info") or {}).get("status", "")),
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error("a venue request failed unexpectedly")

    def _by_client_id(self, tracked: TrackedOrder) -> dict[str, Any]:
        if tracked.venue_id is not None:
            return {}
        return {"clientOrderId": tracked.order.client_order_id}

    def _now(self) -> int:
        if self._clock is None:
            raise VenueNotConnected("CCXTVenue is not connected")
        return self._clock.now_ms()

    def _guard_or_raise(self) -> RequestGuard:
        if self._guard is None:
            raise VenueNotConnected("CCXTVenue.connect() was not awaited")
        return self._guard

    def _tracker_or_raise(self) -> OrderTracker:
        if self._tracker is None:
            raise VenueNotConnected("CCXTVenue is not bound to an order manager")
        return self._tracker

    def _reports_or_raise(self) -> VenueReports:
        if self._reports is None:
            raise VenueNotConnected("CCXTVenue is not bound to an order manager")
        return self._reports
