"""`trading-bot venue serve`: run the paper venue server until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer
from loguru import logger
from rich.console import Console

from trading_bot.config.errors import ConfigError
from trading_bot.venues.server.config import VenueServerConfig, load_venue_config
from trading_bot.venues.server.server import VenueServer
from trading_bot.venues.server.venue import VenueSetupError

USAGE_ERROR = 2
venue_app = typer.Typer(
    name="venue",
    help="The paper venue: a Binance-compatible API over the simulated exchange.",
    no_args_is_help=True,
)
err = Console(stderr=True, soft_wrap=True)


@venue_app.command("serve")
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="The venue's YAML config.")],
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (0: any free port).")] = None,
) -> None:
    """Serve the Binance spot API (REST + WebSocket) over replayed market data."""
    try:
        loaded = load_venue_config(config)
    except ConfigError as error:
        err.print(str(error), highlight=False, markup=False)
        raise typer.Exit(USAGE_ERROR) from None
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    loaded = loaded.model_copy(update=updates)
    try:
        asyncio.run(_serve(loaded))
    except (VenueSetupError, OSError) as error:
        err.print(f"error: {error}", highlight=False, markup=False)
        raise typer.Exit(USAGE_ERROR) from None


async def _serve(config: VenueServerConfig) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = VenueServer(config)
    await server.start()
    symbols = ", ".join(config.market_data)
    logger.info(
        "venue server up: REST {} WebSocket {} ({}; replay speed {})",
        server.rest_url,
        server.ws_url,
        symbols,
        config.replay_speed,
    )
    logger.info(
        "point ccxt at it:\n"
        "    from trading_bot.venues.server.testing import binance_client\n"
        "    exchange = binance_client({!r}, {!r}, api_key=..., secret=..., pro=True)\n"
        "  or in the bot's config: exchange: {{class: ccxt, params: {{exchange: binance, "
        "api_url: {}, ws_url: {}}}}}",
        server.rest_url,
        server.ws_url,
        server.rest_url,
        server.ws_url,
    )
    waiter = asyncio.create_task(stop.wait())
    runner = asyncio.create_task(server.wait())
    await asyncio.wait({waiter, runner}, return_when=asyncio.FIRST_COMPLETED)
    logger.info("venue server stopping")
    waiter.cancel()
    await server.stop()
    logger.info("venue server stopped")
