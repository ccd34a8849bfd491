"""Running the venue server: uvicorn on the current event loop, started and stopped by
`running_venue_server` (tests, the bot's own test rigs) or by `serve` (the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from trading_bot.engine.clock import LiveClock
from trading_bot.venues.server.auth import RequestSigning
from trading_bot.venues.server.config import VenueServerConfig
from trading_bot.venues.server.faults import FaultInjector, FaultMiddleware
from trading_bot.venues.server.ledger import SpotOrder, SpotTrade
from trading_bot.venues.server.rest import build_app
from trading_bot.venues.server.streams import MarketHub, add_websocket_routes
from trading_bot.venues.server.venue import SpotVenue, VenueSetupError


def _protocol_tracking(faults: FaultInjector) -> type[H11Protocol]:
    """uvicorn's HTTP protocol, telling `faults` each connection's transport so a `drop`
    fault can close it without an answer."""

    class Tracked(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            faults.connection_made(self.client, transport)

        def connection_lost(self, exc: Exception | None) -> None:
            faults.connection_lost(self.client)
            super().connection_lost(exc)

    return Tracked


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here rather than by uvicorn: a port already in use is a
    user's problem to tell in one line (`VenueSetupError`), where uvicorn logs it and exits
    the process with a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as error:
        raise VenueSetupError(
            f"port: cannot listen on {host}:{port}: "
            f"{os.strerror(error.errno) if error.errno else error} (another server there? "
            "choose another --port, or 0 for any free one)"
        ) from None


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, capture_signals: bool) -> None:
        super().__init__(config)
        self._capture = capture_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        if self._capture:
            with super().capture_signals():
                yield
        else:
            yield


class VenueServer:
    """A running venue: its URLs, its fault injector and, for tests, its books."""

    def __init__(self, config: VenueServerConfig) -> None:
        self.config = config
        self.clock = LiveClock(asyncio.get_running_loop())
        self.venue = SpotVenue(config, self.clock)
        self.faults = FaultInjector(weight_limit=config.request_weight_per_minute)
        self.signing = RequestSigning(
            config.api_key, config.api_secret, self.clock, config.max_recv_window_ms
        )
        self.hub = MarketHub(self.venue)
        api = build_app(self.venue, self.signing, self.faults, admin_routes=config.admin_routes)
        add_websocket_routes(api, self.venue, self.hub, self.signing, self.faults)
        self.app = FaultMiddleware(api, self.faults, self.clock.now_ms)
        self.host = config.host
        self.port = config.port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def orders(self) -> list[SpotOrder]:
        """Every order the venue took (answered), in the order placed."""
        return [o for o in self.venue.ledger.orders.values() if o.published]

    @property
    def trades(self) -> list[SpotTrade]:
        published = {o.order_id for o in self.orders}
        return [t for t in self.venue.ledger.trades if t.order_id in published]

    def balances(self) -> dict[str, tuple[Any, Any]]:
        """asset -> (free, locked)."""
        return {asset: (free, locked) for asset, free, locked in self.venue.balances()}

    async def drop_websockets(self) -> int:
        return await self.faults.drop_websockets()

    async def start(self, *, capture_signals: bool = False) -> None:
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            http=_protocol_tracking(self.faults),
            ws="websockets-sansio",
            lifespan="off",
            access_log=False,
            log_level="warning",
            log_config=None,
            ws_ping_interval=None,
            timeout_graceful_shutdown=2,
        )
        listening = _listen(self.host, self.port)
        self._server = _Server(config, capture_signals=capture_signals)
        self._task = asyncio.create_task(self._server.serve([listening]), name="venue server")
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises the start-up error (port in use, ...)
                raise RuntimeError("the venue server stopped while starting")
            await asyncio.sleep(0.01)
        bound = self._server.servers[0].sockets[0]
        self.port = bound.getsockname()[1]
        self.hub.start()

    async def wait(self) -> None:
        """Until the server stops (a signal, under the CLI)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        await self.hub.stop()
        await self.faults.drop_websockets(code=1001)
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@contextlib.asynccontextmanager
async def running_venue_server(
    config: VenueServerConfig | dict[str, Any],
) -> AsyncIterator[VenueServer]:
    """A venue server on 127.0.0.1 (a free port unless `config.port`), for the block."""
    if not isinstance(config, VenueServerConfig):
        config = VenueServerConfig.model_validate(config)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    server = VenueServer(config)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
