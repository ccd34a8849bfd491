"""Harnesses for the venues that run inside the test process, on a simulated clock.

- `SimulatedHarness`: `SimulatedExchange`, the backtest's venue. It keeps no books, so it
  answers no queries (recovery never asks it; it raises `VenueQueryError`).
- `PaperHarness`: `PaperExchange`, the same matching engine with durable books in a SQLite
  store, as `trading-bot run` uses it (here on a simulated clock instead of the wall clock).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Self

from sqlalchemy import Engine

from tests.venues.conformance.harness import VenueHarness
from tests.venues.conformance.scenario import MarketScenario
from trading_bot.engine.clock import SimulatedClock
from trading_bot.store.database import open_engine, upgrade_to_head
from trading_bot.store.paper_books import SqlPaperBookStore
from trading_bot.venues.paper.exchange import PaperExchange
from trading_bot.venues.simulated.exchange import SimulatedExchange

# a settle that fires this many timers without reaching its condition is a runaway
_MAX_STEPS = 100_000


class _OnSimulatedClock(VenueHarness):
    clock: SimulatedClock

    async def settle(
        self, until: Callable[[], bool], *, what: str = "", timeout_s: float = 10.0
    ) -> None:
        """Fire the venue's timers one moment at a time until `until()`; the tape is over
        (nothing scheduled) before it holds: fail."""
        clock = self.clock
        for _ in range(_MAX_STEPS):
            if until():
                return
            next_ms = clock.next_timer_ms()
            if next_ms is None:
                break
            clock.advance_to(next_ms)
        raise AssertionError(self.failure(what))

    async def pass_bars(self, count: int) -> None:
        self.clock.advance_to(self.clock.now_ms() + count * self.scenario.interval_ms)


class SimulatedHarness(_OnSimulatedClock):
    name = "simulated"
    supports_queries = False
    venue: SimulatedExchange

    @classmethod
    async def open(cls, scenario: MarketScenario, workdir: Path) -> Self:
        harness = cls(scenario)
        harness.venue = SimulatedExchange(scenario.exchange_params())
        harness.venue.add_market_data(scenario.bar_series())
        harness.clock = SimulatedClock(scenario.start_ms)
        harness.venue.bind(harness.reports, harness.clock)
        return harness

    async def close(self) -> None:
        pass


class PaperHarness(_OnSimulatedClock):
    name = "paper"
    venue: PaperExchange
    _engine: Engine

    @classmethod
    async def open(cls, scenario: MarketScenario, workdir: Path) -> Self:
        harness = cls(scenario)
        engine = open_engine(f"sqlite:///{workdir / 'paper-venue.sqlite'}")
        upgrade_to_head(engine)
        harness._engine = engine
        exchange = SimulatedExchange(scenario.exchange_params())
        start = scenario.start_ms
        # the tape replayed once from its own start at real speed: the same timeline
        harness.venue = PaperExchange(exchange, SqlPaperBookStore(engine), now_ms=start)
        harness.venue.add_market_data(scenario.bar_series(), speed=1, until_ms=start)
        harness.clock = SimulatedClock(start)
        harness.venue.bind(harness.reports, harness.clock)
        return harness

    async def close(self) -> None:
        self._engine.dispose()
