"""`trading-bot run` in paper mode on live prices (`paper.live_data`): a dry run.

The simulated exchange runs in process with its durable books, as with replayed files, but
matches the bot's orders on a real venue's live public trades (`LiveMatcher`). Only public
data is read: the ccxt.pro client carries no credentials, so nothing can reach the venue's
trading API. Market rules come from the venue's market list unless `exchange.params.markets`
gives them; the bot's prices are the live feed's (`LivePrices`), as in live trading.

Start-up: load the venue's markets (before the store is taken, so an unreachable venue costs
nothing), rebuild the paper venue and the bot from the store, then start the feed: restored
orders match from the first trade after it. Stop ends the feed, then closes the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import ccxt
from loguru import logger

from trading_bot.config.loader import LoadedConfig
from trading_bot.config.models import LiveDataConfig
from trading_bot.domain.market import Market
from trading_bot.engine.clock import LiveClock
from trading_bot.engine.context import PriceView
from trading_bot.market_data.live.feed import LiveMarketFeed, describe_error
from trading_bot.monitoring.logging import SecretMasker
from trading_bot.service.assembly import (
    RunningBot,
    ServiceSetupError,
    VenueUnreachable,
    open_store,
)
from trading_bot.service.faults import FaultPlan
from trading_bot.service.paper_venue import assemble_paper_venue_bot
from trading_bot.venues.ccxt.client import build_client
from trading_bot.venues.ccxt.params import CCXTVenueParams
from trading_bot.venues.ccxt.translate import market_from_ccxt
from trading_bot.venues.paper.exchange import PaperExchange


async def start_live_paper_bot(loaded: LoadedConfig, faults: FaultPlan) -> RunningBot:
    live = loaded.config.paper.live_data
    assert live is not None, "start_live_paper_bot needs paper.live_data"
    loop = asyncio.get_running_loop()
    clock = LiveClock(loop)
    client = public_client(live)
    try:
        rules = await venue_rules(client, live)
        engine, lock = open_store(loaded.config.store.url)
    except BaseException:
        await _close(client)
        raise
    feed = LiveMarketFeed(client, live.symbols, clock)

    def follow_live_trades(venue: PaperExchange) -> PriceView:
        for symbol in live.symbols:
            venue.add_live_market(symbol, rules[symbol], live.exchange)
        feed.on_trade(venue.on_live_trade)
        return feed.prices

    try:
        running = assemble_paper_venue_bot(
            loaded,
            engine,
            clock,
            list(live.symbols),
            follow_live_trades,
            schedule=loop.call_soon,
            faults=faults,
        )
    except BaseException:
        lock.release()
        await _close(client)
        raise
    await feed.start()

    async def close() -> None:
        await feed.stop()
        await _close(client)

    running.close = close
    running.lock = lock
    running.checkpoint_in_background()
    logger.info(
        "paper venue matching on {}'s live trades{}: {}",
        live.exchange,
        f" at {live.api_url}" if live.api_url else "",
        ", ".join(live.symbols),
    )
    return running


def public_client(live: LiveDataConfig) -> Any:
    """A ccxt.pro client for the venue's public data, with no credentials, pointed where
    `api_url` / `ws_url` say (the same URL rewriting as the ccxt venue)."""
    return build_client(
        CCXTVenueParams(exchange=live.exchange, api_url=live.api_url, ws_url=live.ws_url)
    )


async def venue_rules(client: Any, live: LiveDataConfig) -> dict[str, Market]:
    """Steps and minimums of each followed symbol, from the venue's market list."""
    try:
        markets = await client.load_markets()
    except Exception as error:
        where = f" at {live.api_url}" if live.api_url else ""
        # no answer (down, failing, throttling): the venue's problem, a later start may work
        problem = VenueUnreachable if isinstance(error, ccxt.NetworkError) else ServiceSetupError
        raise problem(
            f"paper.live_data: cannot load {live.exchange}'s markets{where}: "
            f"{describe_error(error, SecretMasker())}"
        ) from None
    missing = [symbol for symbol in live.symbols if symbol not in markets]
    if missing:
        raise ServiceSetupError(
            f"paper.live_data.symbols: {', '.join(missing)} not listed by {live.exchange}"
        )
    mode = client.precisionMode
    return {symbol: market_from_ccxt(markets[symbol], mode) for symbol in live.symbols}


async def _close(client: Any) -> None:
    with contextlib.suppress(Exception):
        await client.close()
