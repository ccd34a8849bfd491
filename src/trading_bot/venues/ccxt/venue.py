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
- Market rules (steps, minimums) are checked before sending: ccxt would round an order
  quietly, so one that breaks them is rejected here instead.

What the venue says afterwards (streams, polling, the answers to these requests) reaches the
order manager through `OrderUpdates` (updates.py), started in `bind` and stopped in `close`;
reads go through `VenueQueries` (queries.py), ccxt's structures become ours in translate.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from loguru import logger
from pydantic import BaseModel

from trading_bot.domain.market import Market
from trading_bot.domain.order import Order
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.rejections import Rejection, RejectionReason
from trading_bot.engine.clock import Clock
from trading_bot.intake.source import Backoff
from trading_bot.venues.base import Venue, VenueOrderSnapshot, VenueQueryError, VenueReports
from trading_bot.venues.ccxt.client import build_client
from trading_bot.venues.ccxt.errors import Outcome, failed_response_headers
from trading_bot.venues.ccxt.guard import RequestGuard
from trading_bot.venues.ccxt.params import CCXTVenueParams
from trading_bot.venues.ccxt.queries import VenueQueries
from trading_bot.venues.ccxt.tasks import BackgroundTasks
from trading_bot.venues.ccxt.tracked import OrderTracker, TrackedOrder
from trading_bot.venues.ccxt.translate import (
    CLOSED_STATUS,
    create_args,
    decimal,
    market_from_ccxt,
    snapshot_from_ccxt,
)
from trading_bot.venues.ccxt.updates import OrderUpdates
from trading_bot.venues.order_rules import invalid_order

S = OrderStatus
R = RejectionReason
LOOKUP_MARGIN_MS = 2_000  # clock skew allowance on top of the receive window


class VenueNotConnected(RuntimeError):
    """`connect()` was not awaited (or failed) before the venue was used."""


class CCXTVenue(Venue):
    Params = CCXTVenueParams
    params: CCXTVenueParams

    def __init__(self, params: Any = None) -> None:
        super().__init__(params)
        self.lookup_settle_ms = self.params.recv_window_ms + LOOKUP_MARGIN_MS  # type: ignore[misc]
        self.exchange: Any = None
        self._markets: dict[str, Market] = {}
        self._balances: dict[str, Decimal] = {}
        self._reports: VenueReports | None = None
        self._clock: Clock | None = None
        self._tracker: OrderTracker | None = None
        self._guard: RequestGuard | None = None
        self._queries: VenueQueries | None = None
        self._updates: OrderUpdates | None = None
        self._tasks = BackgroundTasks()  # requests under way
        self._balance_refresh: asyncio.Task[None] | None = None
        self.on_ban: Callable[[str], None] = lambda detail: None
        self.keep_ban: Callable[[int], None] = lambda until_ms: None
        self.on_health: Callable[[bool], None] = lambda healthy: None

    @classmethod
    def problems_in_mode(cls, mode: str, params: BaseModel) -> list[tuple[str, str]]:
        assert isinstance(params, CCXTVenueParams)
        problems: list[tuple[str, str]] = []
        credentials = params.credentials
        for name, value in (("api_key", credentials.api_key), ("secret", credentials.secret)):
            if mode != "backtest" and (value is None or not value.get_secret_value()):
                problems.append(
                    (f"params.credentials.{name}", "required to trade (give it as ${VAR})")
                )
        return problems

    @staticmethod
    def real_money_in_paper(params: CCXTVenueParams) -> str | None:
        """Paper must never mean real money by accident: without a testnet or another URL the
        venue is the real one."""
        if params.sandbox or params.api_url:
            return None
        return (
            "mode: paper with exchange.class: ccxt would trade on the real venue: set "
            "exchange.params.sandbox: true (the venue's testnet) or exchange.params.api_url "
            "(a paper venue such as trading-bot venue serve), or use mode: live; to paper trade "
            "on this venue's live prices without keys, use exchange.class: simulated with "
            "paper.live_data (exchange, symbols)"
        )

    # -- lifecycle ------------------------------------------------------------------------------

    async def connect(self, clock: Clock, *, banned_until_ms: int = 0) -> None:
        """Build the client, load markets and balances. Raises `VenueQueryError` with a
        message fit for the user when the venue cannot be reached or refuses the keys.
        `banned_until_ms`: a ban from before a restart; the first request waits for its end."""
        self._clock = clock
        self._guard = RequestGuard(
            clock,
            self.params.retry,
            self.params.breaker,
            secrets=self.secrets(),
            on_ban=lambda detail: self.on_ban(detail),
            keep_ban=lambda until_ms: self.keep_ban(until_ms),
            on_change=lambda healthy: self.on_health(healthy),
            probe=lambda: self.exchange.fetch_time(),
            response_headers=lambda error: failed_response_headers(self.exchange, error),
        )
        self._guard.hold_until(banned_until_ms)
        self.exchange = build_client(self.params)
        self._queries = VenueQueries(self.exchange, self._guard)
        try:
            markets = await self._queries.query(self.exchange.load_markets)
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
        await self._tasks.cancel_all()
        # the streams' client and `exchange` at once: ccxt's close waits a quarter second after
        # the sockets
        stopping = [self._updates.stop()] if self._updates is not None else []
        await asyncio.gather(*stopping, self._close_exchange())

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
        self._updates = OrderUpdates(
            self.params,
            self.exchange,
            self._guard_or_raise(),
            self._queries_or_raise(),
            self._tracker,
            clock,
            balances_moved=self._refresh_balances_soon,
        )
        self._updates.start()

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
        self._tasks.spawn(self._create(tracked))

    def refusal(self, order: Order) -> Rejection | None:
        """What is refused without a request: a symbol not traded here, an order off the
        market's rules (ccxt would round it quietly) and anything sent while banned, paused
        after a 429 or with the circuit breaker open."""
        market = self._markets.get(order.symbol)
        if market is None:
            return Rejection(R.UNKNOWN_ASSET, f"{order.symbol} is not traded here")
        problem = invalid_order(order, market)
        if problem is not None:
            return Rejection(*problem)
        refused = self._guard.refusal() if self._guard is not None else None
        return Rejection(refused.reason, refused.detail) if refused is not None else None

    def cancel_order(self, order: Order) -> None:
        self._tasks.spawn(self._cancel(order))

    def modify_order(
        self, order: Order, *, amount: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        self._tasks.spawn(self._modify(order, amount, price))

    async def fetch_order(self, client_order_id: str, symbol: str) -> VenueOrderSnapshot | None:
        queries = self._queries_or_raise()
        view = await queries.order_view(client_order_id, symbol)
        if view is None:
            return None
        trades = await queries.trades_of(view) if (decimal(view.get("filled")) or 0) > 0 else []
        return snapshot_from_ccxt(client_order_id, view, trades, self._now())

    async def fetch_open_orders(self) -> list[VenueOrderSnapshot]:
        queries = self._queries_or_raise()
        views = await queries.query(self.exchange.fetch_open_orders)
        snapshots = []
        for view in views:
            coid = view.get("clientOrderId")
            if not coid or (self.params.symbols and view.get("symbol") not in self._markets):
                continue
            filled = decimal(view.get("filled")) or 0
            trades = await queries.trades_of(view) if filled > 0 else []
            snapshots.append(snapshot_from_ccxt(str(coid), view, trades, self._now()))
        return snapshots

    async def fetch_balances(self) -> dict[str, Decimal]:
        raw = await self._queries_or_raise().query(self.exchange.fetch_balance)
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
        # asked again: a pause or ban may have begun since the order manager asked, and a
        # resend by recovery is not asked before
        refusal = self.refusal(order)
        if refusal is not None:
            tracker.reject(tracked, refusal.reason, f"not sent: {refusal.detail}")
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
        await self._updates_or_raise().apply(tracked, view)
        self._refresh_balances_soon()

    async def _resolve_unknown(self, tracked: TrackedOrder) -> None:
        """Find out whether a create with no answer reached the venue."""
        order = tracked.order
        deadline = tracked.sent_ms + self.lookup_settle_ms
        backoff = Backoff(initial_s=0.2, max_s=2.0)
        while True:
            try:
                view = await self._queries_or_raise().order_view(
                    order.client_order_id, order.symbol
                )
            except VenueQueryError as error:
                view, failure = None, str(error)
            else:
                failure = ""
                if view is not None:
                    await self._updates_or_raise().apply(tracked, view)
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
        updates = self._updates_or_raise()
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
                        await updates.refresh(tracked)
                if order.status is S.CANCELED or tracked.canceled:
                    return
            self._reports_or_raise().cancel_rejected(coid, reading.reason, reading.detail)
            return
        await updates.apply(tracked, view)
        if order.is_open and CLOSED_STATUS.get(str(view.get("status"))) is None:
            await updates.refresh(tracked)  # some venues answer a cancel with the order as it was
        self._refresh_balances_soon()

    async def _modify(self, order: Order, amount: Decimal | None, price: Decimal | None) -> None:
        guard, tracker = self._guard_or_raise(), self._tracker_or_raise()
        reports, updates = self._reports_or_raise(), self._updates_or_raise()
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
        limit = new_price if order.order_type.has_limit_price else None
        if changed.trigger_price is not None:
            # ccxt's edit reads the trigger from `triggerPrice` only: with `stopLossPrice`
            # (the create's key) a stop-market was replaced by a plain market order
            params = {k: v for k, v in args["params"].items() if k != "stopLossPrice"}
            args["params"] = {**params, "triggerPrice": str(changed.trigger_price)}
        replaced = tracked.venue_id
        # the cancel half of the cancel-replace may reach the stream before the answer does:
        # it is not the order's end (the new order carries the same client order id)
        tracked.replacing = replaced
        old_limit = tracked.limit
        if order.order_type.has_limit_price:  # fills at the new price are the new order's
            tracked.limit = new_price
        try:
            view = await guard.once(
                lambda: self.exchange.edit_order(
                    replaced,
                    order.symbol,
                    args["type"],
                    args["side"],
                    str(remaining),
                    str(limit) if limit is not None else None,
                    args["params"],
                )
            )
        except Exception as error:
            tracked.replacing = None
            reading = guard.classify(error)
            with contextlib.suppress(VenueQueryError):
                await updates.refresh(tracked)  # the newest order with our client order id
            if tracked.venue_id != replaced and order.is_open:
                # no answer, but the venue did it: the new order is there (never sent twice)
                tracked.filled_before = order.filled_amount
                reports.order_modified(coid, new_amount, price)
            elif order.is_open:
                tracked.limit = old_limit
                reports.modify_rejected(coid, reading.reason, reading.detail)
            return
        tracked.replacing = None
        tracked.filled_before = order.filled_amount
        tracker.add_venue_id(tracked, str(view["id"]))
        reports.order_modified(coid, new_amount, price)
        await updates.apply(tracked, view)

    # -- balances -------------------------------------------------------------------------------

    def _refresh_balances_soon(self) -> None:
        if self._balance_refresh is not None and not self._balance_refresh.done():
            return
        if self.params.credentials.api_key is None:
            return

        async def refresh() -> None:
            with contextlib.suppress(VenueQueryError):
                await self.fetch_balances()

        self._balance_refresh = asyncio.get_running_loop().create_task(refresh())

    # -- plumbing -------------------------------------------------------------------------------

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

    def _queries_or_raise(self) -> VenueQueries:
        if self._queries is None:
            raise VenueNotConnected("CCXTVenue.connect() was not awaited")
        return self._queries

    def _updates_or_raise(self) -> OrderUpdates:
        if self._updates is None:
            raise VenueNotConnected("CCXTVenue is not bound to an order manager")
        return self._updates

    def _reports_or_raise(self) -> VenueReports:
        if self._reports is None:
            raise VenueNotConnected("CCXTVenue is not bound to an order manager")
        return self._reports
