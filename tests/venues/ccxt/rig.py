"""A `CCXTVenue` trading against the venue server on 127.0.0.1, reporting to the real
`OrderManager`, for tests that inject faults at the server.

The order manager is the judge of "nothing twice": it raises on a transition the order's state
table does not allow (accepted after rejected, canceled twice...) and counts a repeated or
excess fill as an anomaly. `CheckedOrderManager` also writes every report down
(`RecordingReports`) and keeps what the manager refused, so `LiveRig.problems()` lists
everything no fault may ever cause, including a client order id the server holds twice (once
more per acknowledged modify: a cancel-replace's new order carries the id on).

The market is the conformance scenario (tests/venues/conformance/scenario.py): every bar opens
at 100 (a market order fills at 100), a buy limit at 97 fills on the dips (bars 8 and 15 of
each 24-bar loop), one at 90 never fills. Bars last `BAR_S` wall seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.venues.conformance.reports import RecordingReports
from tests.venues.conformance.scenario import MarketScenario
from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.fill import Fill
from trading_bot.domain.order import Order
from trading_bot.domain.rejections import RejectionReason
from trading_bot.engine.bus import EventBus
from trading_bot.engine.clock import LiveClock
from trading_bot.orders.manager import OrderManager
from trading_bot.venues.ccxt.guard import RequestGuard
from trading_bot.venues.ccxt.updates import OrderUpdates
from trading_bot.venues.ccxt.venue import CCXTVenue
from trading_bot.venues.server import VenueServerConfig, running_venue_server
from trading_bot.venues.server.server import VenueServer

D = Decimal
R = RejectionReason
BAR_S = 0.25
API_KEY, API_SECRET = "faults-key", "faults-secret-0123456789"
ORDER_PATH = "/api/v3/order"


class CheckedOrderManager(OrderManager):
    """The order manager, writing down every report it gets and every one it refused."""

    def __init__(self, bus: EventBus, clock: LiveClock, venue: CCXTVenue) -> None:
        self.recorded = RecordingReports()
        self.refused: list[str] = []
        super().__init__(bus, clock, venue)

    def _checked(self, name: str, *args: Any) -> None:
        getattr(self.recorded, name)(*args)
        try:
            getattr(super(), name)(*args)
        except Exception as error:
            self.refused.append(f"{name}{args!r}: {error!r}")
            raise

    def order_accepted(self, client_order_id: str, venue_order_id: str) -> None:
        self._checked("order_accepted", client_order_id, venue_order_id)

    def order_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._checked("order_rejected", client_order_id, reason, detail)

    def order_filled(self, fill: Fill) -> None:
        self._checked("order_filled", fill)

    def order_triggered(self, client_order_id: str) -> None:
        self._checked("order_triggered", client_order_id)

    def order_modified(self, client_order_id: str, amount: Decimal, price: Decimal | None) -> None:
        self._checked("order_modified", client_order_id, amount, price)

    def order_canceled(self, client_order_id: str, detail: str) -> None:
        self._checked("order_canceled", client_order_id, detail)

    def order_expired(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._checked("order_expired", client_order_id, reason, detail)

    def cancel_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._checked("cancel_rejected", client_order_id, reason, detail)

    def modify_rejected(self, client_order_id: str, reason: RejectionReason, detail: str) -> None:
        self._checked("modify_rejected", client_order_id, reason, detail)


@dataclass
class LiveRig:
    server: VenueServer
    venue: CCXTVenue
    clock: LiveClock
    manager: CheckedOrderManager
    bus: EventBus  # the manager's
    health: list[bool] = field(default_factory=list)  # on_health calls, in order
    bans: list[str] = field(default_factory=list)  # on_ban calls
    _prefix: str = field(default_factory=lambda: f"ft{uuid.uuid4().hex[:8]}")
    _sequence: int = 0

    @property
    def reports(self) -> RecordingReports:
        return self.manager.recorded

    @property
    def guard(self) -> RequestGuard:
        assert self.venue._guard is not None
        return self.venue._guard

    @property
    def updates(self) -> OrderUpdates:
        assert self.venue._updates is not None
        return self.venue._updates

    # -- orders ---------------------------------------------------------------------------------

    def order(
        self,
        side: str,
        amount: str,
        kind: str = "market",
        *,
        price: str | None = None,
        post_only: bool = False,
        symbol: str = "BTC/USDT",
    ) -> Order:
        self._sequence += 1
        return Order(
            f"{self._prefix}-{self._sequence}",
            symbol,
            Side(side),
            OrderType(kind),
            D(amount),
            self.clock.now_ms(),
            "faults",
            price=None if price is None else D(price),
            time_in_force=TimeInForce.GTC,
            post_only=post_only,
        )

    def submit(self, order: Order) -> Order:
        self.manager.submit(order)
        return order

    # -- the server's side ----------------------------------------------------------------------

    def server_orders(self, client_order_id: str) -> list[Any]:
        return [o for o in self.server.orders if o.client_order_id == client_order_id]

    def order_requests(self) -> int:
        """How many order creates reached the server (answered, faulted or dropped)."""
        return sum(
            1
            for method, path in self.server.faults.requests
            if (method, path)
            == (
                "POST",
                ORDER_PATH,
            )
        )

    # -- waiting --------------------------------------------------------------------------------

    async def until(self, condition: Callable[[], bool], what: str, timeout_s: float = 8.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not condition():
            if loop.time() > deadline:
                raise AssertionError(
                    f"never reached: {what}\nreports:\n{self.reports.describe()}\n"
                    f"refused: {self.manager.refused}\nanomalies: {self.manager.anomalies}"
                )
            await asyncio.sleep(0.02)

    async def until_reported(self, order: Order, kind: str, timeout_s: float = 8.0) -> None:
        coid = order.client_order_id
        await self.until(lambda: self.reports.has(coid, kind), f"{kind} of {coid}", timeout_s)

    async def until_filled(self, order: Order, timeout_s: float = 8.0) -> None:
        coid, amount = order.client_order_id, order.amount
        await self.until(
            lambda: self.reports.filled(coid) >= amount, f"{amount} filled of {coid}", timeout_s
        )

    # -- what must never happen -----------------------------------------------------------------

    def problems(self) -> list[str]:
        """A report the order manager refused, a fill reported twice or in excess, a client
        order id the server holds twice."""
        found = [*self.manager.refused, *self.manager.anomalies, *self.reports.problems()]
        held = Counter(o.client_order_id for o in self.server.orders)
        for coid, count in held.items():
            # a modify is a cancel-replace: the new order carries the client order id on
            if count > 1 + len(self.reports.of(coid, "modified")):
                found.append(f"the server holds {count} orders {coid}")
        return found


def server_config(tmp_path: Path, scenario: MarketScenario, **options: Any) -> VenueServerConfig:
    csv = scenario.write_candles_csv(tmp_path / "tape.csv")
    return VenueServerConfig(
        market_data={scenario.symbol: csv},
        replay_speed=round(scenario.interval_ms / 1000 / BAR_S),
        exchange=scenario.exchange_params(),
        api_key=API_KEY,
        api_secret=API_SECRET,
        **options,
    )


def venue_params(server: VenueServer, **params: Any) -> dict[str, Any]:
    return {
        "exchange": "binance",
        "credentials": {"api_key": API_KEY, "secret": API_SECRET},
        "api_url": server.rest_url,
        "ws_url": server.ws_url,
        "rate_limit_ms": 1,
        "poll_interval_s": 0.25,
        "timeout_ms": 3000,
        "recv_window_ms": 1000,  # a lost create is known not placed 3 s after it was sent
        "retry": {"attempts": 4, "initial_wait_s": 0.05, "max_wait_s": 0.3},
        **params,
    }


@contextlib.asynccontextmanager
async def live_rig(
    tmp_path: Path,
    *,
    scenario: MarketScenario | None = None,
    server_options: dict[str, Any] | None = None,
    check: bool = True,
    **params: Any,
) -> AsyncIterator[LiveRig]:
    """A venue server, a connected `CCXTVenue` (`params` over `venue_params`) and the order
    manager it reports to. On leaving, `problems()` must be empty (unless `check=False`)."""
    scenario = scenario or MarketScenario()
    config = server_config(tmp_path, scenario, **(server_options or {}))
    async with running_venue_server(config) as server:
        clock = LiveClock()
        venue = CCXTVenue(venue_params(server, **params))
        health: list[bool] = []
        bans: list[str] = []
        venue.on_health = health.append
        venue.on_ban = bans.append
        await venue.connect(clock)
        try:
            bus = EventBus()
            manager = CheckedOrderManager(bus, clock, venue)
            rig = LiveRig(server, venue, clock, manager, bus, health, bans)
            yield rig
            if check:
                problems = rig.problems()
                assert not problems, f"{problems}\n{rig.reports.describe()}"
        finally:
            await venue.close()
