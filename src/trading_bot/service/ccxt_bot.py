"""`trading-bot run` against a live venue through ccxt (a real exchange, its testnet, or
`trading-bot venue serve`).

The same start-up as paper mode, with the venue outside the process: open the store (a ban
the venue gave the bot before a restart is in it: nothing is sent until it ends, so start-up
waits for it), connect (markets, fee rates, balances), start the market data feed that gives the bot its prices, rebuild the bot
from the store, follow its open orders again, and let the service reconcile before any new
signal is read.
"""

from __future__ import annotations

import asyncio

from loguru import logger
from sqlalchemy import Engine

from trading_bot.app import build_bot
from trading_bot.config.loader import LoadedConfig
from trading_bot.domain.market import split_symbol
from trading_bot.domain.order_status import OrderStatus
from trading_bot.domain.timestamps import format_ms
from trading_bot.engine.clock import LiveClock
from trading_bot.market_data.live.feed import LiveMarketFeed
from trading_bot.monitoring.alerts import Alerter, AlertLevel
from trading_bot.service.assembly import (
    OUTCOME_GROUP_MS,
    RunningBot,
    ServiceSetupError,
    VenueUnreachable,
    open_store,
    restore_bot,
)
from trading_bot.service.faults import FaultPlan
from trading_bot.store.bot_state import (
    load_bot_state,
    load_venue_ban,
    save_initial_balances,
    save_venue_ban,
)
from trading_bot.store.journal import StoreJournal
from trading_bot.venues.base import VenueQueryError
from trading_bot.venues.ccxt.venue import CCXTVenue


async def start_ccxt_bot(loaded: LoadedConfig, venue: CCXTVenue, faults: FaultPlan) -> RunningBot:
    config = loaded.config
    loop = asyncio.get_running_loop()
    clock = LiveClock(loop)
    alerter = loaded.alerter.build() if loaded.alerter is not None else Alerter()
    venue.on_ban = lambda detail: alerter.alert(
        AlertLevel.CRITICAL,
        f"{venue.params.exchange} banned the bot (HTTP 418)",
        f"Nothing is sent until the ban ends. {detail}",
    )
    engine, lock = open_store(config.store.url)
    venue.keep_ban = lambda until_ms: _save_venue_ban(engine, until_ms)
    try:
        await venue.connect(clock, banned_until_ms=_ban_in_force(engine, clock, venue))
    except BaseException as error:
        lock.release()
        engine.dispose()
        if isinstance(error, VenueQueryError):
            problem = VenueUnreachable if error.venue_down else ServiceSetupError
            raise problem(
                f"exchange: cannot start on {venue.params.exchange}"
                f"{' at ' + venue.params.api_url if venue.params.api_url else ''}: {error}"
            ) from None
        raise
    symbols = list(venue.params.symbols) or sorted(venue.markets())
    feed = LiveMarketFeed(venue.exchange, symbols, clock)
    await feed.start()
    journal = StoreJournal(
        engine,
        clock,
        schedule=loop.call_soon,
        on_intents_committed=lambda: faults.reached("after_intent_commit"),
        group_ms=OUTCOME_GROUP_MS,
    )
    state = load_bot_state(engine)
    initial = state.initial_balances
    if initial is None:
        initial = venue.balances()
        save_initial_balances(engine, initial)
    currency = config.backtest.valuation_currency or split_symbol(symbols[0])[1]
    bot = build_bot(
        loaded,
        venue=venue,
        clock=clock,
        prices=feed.prices,
        initial_balances=initial,
        journal=journal,
        valuation_currency=currency,
    )
    restore_bot(bot, state, engine)
    # An order whose sending was never recorded is followed only once reconciliation has
    # asked the venue about it (`follow_open_orders`): a stream update for it before then
    # would be an acceptance of an order the bot does not know it sent.
    for order in bot.kernel.orders.open_orders():
        if order.status is not OrderStatus.INITIALIZED:
            venue.follow(order)

    async def close() -> None:
        await feed.stop()
        await venue.close()
        await alerter.drain()

    running = RunningBot(
        bot, venue, journal, engine, feed.prices, currency, state.cursors, symbols, close=close
    )
    running.lock = lock
    running.alerter = alerter
    running.checkpoint_in_background()
    logger.info(
        "live venue {} connected{}: {} market(s) followed",
        venue.params.exchange,
        f" at {venue.params.api_url}" if venue.params.api_url else "",
        len(symbols),
    )
    return running


def _ban_in_force(engine: Engine, clock: LiveClock, venue: CCXTVenue) -> int:
    """The end of a ban the venue gave the bot before this start, if it has not ended (0
    otherwise). Start-up waits for it rather than start with every request held: the bot
    cannot be built without the venue's markets, and the wait is the venue's ban, told here."""
    until_ms = load_venue_ban(engine) or 0
    wait_ms = until_ms - clock.now_ms()
    if wait_ms <= 0:
        return 0
    logger.critical(
        "{} banned this bot (HTTP 418) until {}: nothing is sent until then, so start-up waits "
        "{:.0f} s for the ban to end (Ctrl-C or SIGTERM stops the wait)",
        venue.params.exchange,
        format_ms(until_ms),
        wait_ms / 1000,
    )
    return until_ms


def _save_venue_ban(engine: Engine, until_ms: int) -> None:
    try:
        save_venue_ban(engine, until_ms)
    except Exception:  # the ban is still kept in this run; only a restart would forget it
        logger.exception("could not save the venue's ban (until {})", format_ms(until_ms))
