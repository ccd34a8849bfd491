"""The ccxt venue against the venue server: real ccxt (REST and ccxt.pro streams) over HTTP
and WebSocket on 127.0.0.1, on the wall clock.

The scenario's tape is replayed by the server with bars of `BAR_S` wall seconds, so the quiet
first bars leave time for a few round trips before the first dip.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from tests.venues.conformance.harness import VenueHarness
from tests.venues.conformance.scenario import MarketScenario
from trading_bot.engine.clock import LiveClock
from trading_bot.venues.ccxt.venue import CCXTVenue
from trading_bot.venues.server import VenueServerConfig, running_venue_server

BAR_S = 0.25
API_KEY, API_SECRET = "conformance-key", "conformance-secret"


class CCXTServerHarness(VenueHarness):
    name = "ccxt-server"
    supports_reconnect = True
    venue: CCXTVenue

    @classmethod
    async def open(cls, scenario: MarketScenario, workdir: Path) -> Self:
        harness = cls(scenario)
        csv = scenario.write_candles_csv(workdir / "tape.csv")
        config = VenueServerConfig(
            market_data={scenario.symbol: csv},
            replay_speed=round(scenario.interval_ms / 1000 / BAR_S),
            exchange=scenario.exchange_params(),
            api_key=API_KEY,
            api_secret=API_SECRET,
            unique_client_order_ids=True,
        )
        harness._stack = contextlib.AsyncExitStack()
        harness.server = await harness._stack.enter_async_context(running_venue_server(config))
        harness.clock = LiveClock()
        harness.venue = venue_for(harness.server.rest_url, harness.server.ws_url)
        await harness.venue.connect(harness.clock)
        harness.venue.bind(harness.reports, harness.clock)
        return harness

    async def settle(
        self, until: Callable[[], bool], *, what: str = "", timeout_s: float = 10.0
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not until():
            if loop.time() > deadline:
                raise AssertionError(self.failure(what))
            await asyncio.sleep(0.02)

    async def pass_bars(self, count: int) -> None:
        await asyncio.sleep(count * BAR_S)

    async def drop_connection(self) -> None:
        await self.server.drop_websockets()

    async def close(self) -> None:
        await self.venue.close()
        await self._stack.aclose()

    server: Any
    _stack: contextlib.AsyncExitStack


def venue_for(rest_url: str, ws_url: str, **params: Any) -> CCXTVenue:
    return CCXTVenue(
        {
            "exchange": "binance",
            "credentials": {"api_key": API_KEY, "secret": API_SECRET},
            "api_url": rest_url,
            "ws_url": ws_url,
            "rate_limit_ms": 1,
            "poll_interval_s": 0.25,
            "timeout_ms": 3000,
            **params,
        }
    )
