"""What the conformance suite needs from each `Venue` implementation: a harness.

A harness builds its venue from a `MarketScenario`, binds it to a `RecordingReports`, and
lets time pass until something has happened (`settle`). The tests then talk to the venue
only through the `Venue` port (`harness.venue`), so one test holds every implementation to
the same behaviour:

- in-process venues (`in_process.py`) run on a `SimulatedClock`: `settle` fires the venue's
  timers one moment at a time until the condition holds or nothing is left to happen;
- a venue behind a server (the ccxt venue against the venue server) runs on the wall clock:
  `settle` polls until the condition holds or `timeout_s` passes.

Either way a condition never reached is an `AssertionError` that shows every report the venue
made and its balances, so a failing conformance test says what the venue did instead.

To add a venue: subclass `VenueHarness`, implement `open`, `settle`, `pass_bars`, `close`
(and `drop_connection` with `supports_reconnect = True`), and list the class in
`conftest.HARNESSES`.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import ClassVar, Self

from tests.venues.conformance.reports import RecordingReports
from tests.venues.conformance.scenario import MarketScenario
from trading_bot.domain.enums import OrderType, Side, TimeInForce
from trading_bot.domain.order import Order
from trading_bot.engine.clock import Clock
from trading_bot.venues.base import Venue

D = Decimal


class VenueHarness(ABC):
    """One `Venue` implementation set up for the conformance suite."""

    name: ClassVar[str]
    # fetch_order / fetch_open_orders answer (a venue that keeps no books raises
    # VenueQueryError instead: the backtest's exchange, which recovery never asks)
    supports_queries: ClassVar[bool] = True
    # the connection can be dropped and re-made under the venue (`drop_connection`)
    supports_reconnect: ClassVar[bool] = False

    venue: Venue
    clock: Clock
    reports: RecordingReports
    scenario: MarketScenario

    def __init__(self, scenario: MarketScenario) -> None:
        self.scenario = scenario
        self.reports = RecordingReports()
        # client order ids unique across runs, so a venue kept between tests never sees one twice
        self._id_prefix = f"cf{uuid.uuid4().hex[:10]}"
        self._sequence = 0

    # -- what each implementation provides -------------------------------------------------------

    @classmethod
    @abstractmethod
    async def open(cls, scenario: MarketScenario, workdir: Path) -> Self:
        """A venue trading `scenario`, bound to `self.reports`, its tape at the first bar and
        ready for orders. `workdir` is an empty directory the harness may write to.

        On the wall clock the tests need the quiet first bars (0-7) to place, look at, modify
        and cancel orders before the first dip: start the replay as `open` returns (or wait
        for the start of its next loop), with bars of 100-300 ms so that a few HTTP round
        trips fit in a bar."""

    @abstractmethod
    async def settle(
        self, until: Callable[[], bool], *, what: str = "", timeout_s: float = 10.0
    ) -> None:
        """Let the venue work until `until()` holds; AssertionError (with `what`, the reports
        and the balances) if it never does: the tape ended (in-process) or `timeout_s` wall
        seconds passed (live)."""

    @abstractmethod
    async def pass_bars(self, count: int) -> None:
        """Let `count` bars of the tape go by (to see that nothing happens meanwhile)."""

    async def drop_connection(self) -> None:
        """Break the venue's connection to the exchange (it must reconnect by itself)."""
        raise NotImplementedError(f"{self.name} has no connection to drop")

    @abstractmethod
    async def close(self) -> None:
        """Stop the venue and everything the harness started."""

    # -- shared helpers --------------------------------------------------------------------------

    def order(
        self,
        side: str,
        amount: str | Decimal,
        kind: str = "market",
        *,
        price: str | Decimal | None = None,
        post_only: bool = False,
        tif: str = "gtc",
        symbol: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """A domain order with a fresh client order id (not sent)."""
        self._sequence += 1
        return Order(
            client_order_id or f"{self._id_prefix}-{self._sequence}",
            symbol or self.scenario.symbol,
            Side(side),
            OrderType(kind),
            D(amount),
            self.clock.now_ms(),
            "conformance",
            price=None if price is None else D(price),
            time_in_force=TimeInForce(tif),
            post_only=post_only,
        )

    async def until_reported(self, order: Order, kind: str) -> None:
        coid = order.client_order_id
        await self.settle(lambda: self.reports.has(coid, kind), what=f"{kind} of {coid}")

    async def until_filled(self, order: Order, amount: Decimal | None = None) -> None:
        """Until fills of `order` reach `amount` (all of it by default)."""
        coid, target = order.client_order_id, order.amount if amount is None else amount
        await self.settle(
            lambda: self.reports.filled(coid) >= target, what=f"{target} filled of {coid}"
        )

    async def until_closed(self, order: Order) -> None:
        coid, amount = order.client_order_id, order.amount
        await self.settle(lambda: self.reports.is_closed(coid, amount), what=f"{coid} closed")

    async def until_balances(self, expected: dict[str, Decimal]) -> None:
        """Until `venue.balances()` is `expected` (assets at zero left out on both sides)."""
        want = held(expected)
        await self.settle(lambda: held(self.venue.balances()) == want, what=f"balances {want}")

    def failure(self, what: str) -> str:
        """The text of a settle failure: what was awaited, what the venue did instead."""
        try:
            balances = held(self.venue.balances())
        except Exception as error:  # a broken venue still gets its reports shown
            balances = {"<balances() raised>": D(0), repr(error): D(0)}
        return (
            f"{self.name}: never reached {what or 'the condition'}\n"
            f"reports:\n{self.reports.describe()}\nbalances: {balances}"
        )


def held(balances: dict[str, Decimal]) -> dict[str, Decimal]:
    """Balances without the assets at zero (a live account lists every asset it knows)."""
    return {asset: amount for asset, amount in balances.items() if amount != 0}
